import { Queue, QueueEvents, type ConnectionOptions } from 'bullmq';
import type { ResolvedJobSpec } from '../spec/index.js';
import { PREDICT_QUEUE, TRAINING_QUEUE, type RedisKeys } from '../store/keys.js';

/** What a training job carries through BullMQ: the id of the job record, and its spec. */
export interface TrainingJobData {
  jobId: string;
  spec: ResolvedJobSpec;
}

export interface PredictJobData {
  jobId: string;
  inputs: unknown[];
}

/** The prefix of a predict job's failure when the model cannot run on the inputs it was given. */
export const INVALID_INPUTS = 'invalid_inputs';

export interface PredictResult {
  outputs: unknown[];
}

export function createTrainingQueue(connection: ConnectionOptions, keys: RedisKeys): Queue<TrainingJobData> {
  return new Queue<TrainingJobData>(TRAINING_QUEUE, { connection, prefix: keys.bull });
}

export function createPredictQueue(connection: ConnectionOptions, keys: RedisKeys): Queue<PredictJobData, PredictResult> {
  return new Queue<PredictJobData, PredictResult>(PREDICT_QUEUE, { connection, prefix: keys.bull });
}

export function createPredictEvents(connection: ConnectionOptions, keys: RedisKeys): QueueEvents {
  return new QueueEvents(PREDICT_QUEUE, { connection, prefix: keys.bull });
}

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
