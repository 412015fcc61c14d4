import { Queue, type ConnectionOptions } from 'bullmq';
import type { StoredJobSpec } from '../spec/index.js';
import { PREDICT_QUEUE, TRAINING_QUEUE, type RedisKeys } from '../store/keys.js';

/** What a training job carries through BullMQ: the id of the job record, and its spec (inline data as references). */
export interface TrainingJobData {
  jobId: string;
  spec: StoredJobSpec;
  /** Set for an experiment's trial: its worker consults the experiment after every epoch. */
  experimentId?: string;
  /** The x-request-id of the submission, carried into the job's logs. */
  requestId?: string;
}

export interface PredictJobData {
  jobId: string;
  inputs: unknown[];
  /** Names this request in its reply. */
  requestId: string;
  /** The Redis list the API process that asked reads replies from (see PredictReplies). */
  replyTo: string;
  /** The most output values the reply may carry (MAX_PREDICT_OUTPUT_VALUES). */
  maxOutputValues: number;
}

export interface PredictResult {
  outputs: unknown[];
}

/** Why a predict request failed, as a typed code the API maps to a status. */
export type PredictErrorCode = 'invalid_inputs' | 'output_too_large' | 'model_not_found' | 'predict_failed';

/**
 * A predict reply. It travels through a short-lived list that the asking API process reads
 * once (never through BullMQ's return values, which its event stream would keep).
 */
export type PredictReply = { requestId: string } & (PredictResult | { error: { code: PredictErrorCode; message: string; details?: unknown } });

export function createTrainingQueue(connection: ConnectionOptions, keys: RedisKeys): Queue<TrainingJobData> {
  return new Queue<TrainingJobData>(TRAINING_QUEUE, { connection, prefix: keys.bull });
}

export function createPredictQueue(connection: ConnectionOptions, keys: RedisKeys): Queue<PredictJobData, PredictResult> {
  return new Queue<PredictJobData, PredictResult>(PREDICT_QUEUE, { connection, prefix: keys.bull });
}

/** A predict job leaves nothing behind in BullMQ: its inputs and its (empty) result go at once. */
export const predictJobOptions = { removeOnComplete: true, removeOnFail: true } as const;

/**
 * `priority` is the owning tenant's turn (lower runs first, FIFO within a turn): every training
 * job has one, since BullMQ serves jobs without a priority before any prioritized job.
 */
export function trainingJobOptions(jobId: string, attempts: number, priority: number) {
  return {
    jobId,
    attempts,
    priority,
    backoff: { type: 'exponential', delay: 1_000 },
    // The job record in Descent's own keys is the source of truth; BullMQ's copy can go.
    removeOnComplete: true,
    removeOnFail: { count: 1_000 },
  };
}

/** Control messages the API broadcasts to workers. */
export type ControlMessage = { type: 'cancel'; jobId: string };
