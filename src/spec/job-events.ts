import { z } from 'zod';
import { engineRunSchema, epochMetricsSchema, jobErrorSchema, jobStatusSchema, stoppedBySchema } from './job-record.js';
import { fittedPreprocessingSchema } from './preprocessing.js';

/**
 * The events of a job's stream (Redis Stream, served as SSE): one schema per event type, the
 * job lifecycle writes them, the SSE route documents them and the tests parse them. A new
 * event is one more entry in `jobEventDataSchemas`; a new field on an event, one more key in
 * its object.
 */

const at = z.string().describe('When it happened (ISO 8601).');

/**
 * Why a running job went back to the queue: a worker shutdown (no attempt spent), or a fault
 * that spends the attempt and is retried while attempts are left; each fault is named by the
 * error code the job fails with once they are not.
 */
export const REQUEUE_REASONS = ['worker_shutdown', 'worker_crashed', 'storage_unavailable'] as const;
export type RequeueReason = (typeof REQUEUE_REASONS)[number];

export const statusEventDataSchema = z
  .strictObject({
    status: jobStatusSchema,
    at,
    attempt: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('The attempt this run is (running; a resume after a worker shutdown keeps it), or the one a fault ended (queued again).'),
    worker: z.string().optional().describe('The worker that started the job (running).'),
    resumed: z.literal(true).optional().describe('A restart: training continues from `fromEpoch` (running).'),
    fromEpoch: z.number().int().min(0).optional().describe('The checkpointed epoch a restart continues after (running).'),
    reason: z
      .enum(REQUEUE_REASONS)
      .optional()
      .describe(
        'Why a running job went back to the queue: worker_shutdown (no attempt spent), worker_crashed (the training process died), ' +
          'storage_unavailable (the artifact store failed).',
      ),
    message: z.string().optional().describe('What went wrong (queued again after a fault).'),
    checkpointEpoch: z.number().int().nullable().optional().describe('The epoch a job stopped for a shutdown resumes after.'),
  })
  .describe('The job changed state.')
  .meta({ id: 'JobStatusEvent' });

export const epochEventDataSchema = epochMetricsSchema
  .extend({
    learningRate: z.number().describe('The learning rate the epoch trained with.'),
    durationMs: z.number().describe('How long the epoch took.'),
    epochs: z.number().int().min(1).describe('Epochs asked for.'),
  })
  .describe('One finished epoch: its metrics (val_* for the validation split), learning rate and duration.')
  .meta({ id: 'JobEpochEvent' });

/** One finished epoch as training reports it: the epoch event without what the job adds (`epochs`). */
export const epochReportSchema = epochEventDataSchema.omit({ epochs: true });
export type EpochReport = z.infer<typeof epochReportSchema>;

export const stoppedEarlySchema = z
  .strictObject({ epoch: z.number().int(), bestEpoch: z.number().int(), restoredBestWeights: z.boolean() })
  .describe('Set when early stopping ended training before the last epoch.');
export type StoppedEarly = z.infer<typeof stoppedEarlySchema>;

export const completedEventDataSchema = z
  .strictObject({
    status: z.literal('completed'),
    at,
    epoch: z.number().int().min(0).describe('Epochs trained.'),
    final: epochMetricsSchema.nullable().describe("The last epoch's metrics."),
    numTensors: z.number().int().describe('Tensors alive in the training process at the end (a leak check).'),
    engine: engineRunSchema.optional(),
    stoppedEarly: stoppedEarlySchema.optional(),
    stoppedBy: stoppedBySchema.optional().describe('An experiment trial its scheduler stopped at `epoch` (before the epochs asked for).'),
    preprocessing: fittedPreprocessingSchema.optional(),
  })
  .describe('Training finished; the model can be downloaded and used for predictions. The last event.')
  .meta({ id: 'JobCompletedEvent' });

export const failedEventDataSchema = z
  .strictObject({ status: z.literal('failed'), at, error: jobErrorSchema })
  .describe('The job failed; `error.code` says why. The last event.')
  .meta({ id: 'JobFailedEvent' });

export const cancelledEventDataSchema = z
  .strictObject({ status: z.literal('cancelled'), at })
  .describe('The job was cancelled. The last event.')
  .meta({ id: 'JobCancelledEvent' });

/** Every event type with the schema of its data. */
export const jobEventDataSchemas = {
  status: statusEventDataSchema,
  epoch: epochEventDataSchema,
  completed: completedEventDataSchema,
  failed: failedEventDataSchema,
  cancelled: cancelledEventDataSchema,
} as const;

export type JobEventType = keyof typeof jobEventDataSchemas;
export const EVENT_TYPES = Object.keys(jobEventDataSchemas) as JobEventType[];

const eventOf = <T extends JobEventType>(type: T) => z.object({ type: z.literal(type), data: jobEventDataSchemas[type] });

/** An event as the job lifecycle writes it: its type and its data. */
export const newJobEventSchema = z.discriminatedUnion('type', [
  eventOf('status'),
  eventOf('epoch'),
  eventOf('completed'),
  eventOf('failed'),
  eventOf('cancelled'),
]);
export type NewJobEvent = z.infer<typeof newJobEventSchema>;
// An event type added to jobEventDataSchemas but not to the union above fails to compile here.
const unionCoversEveryType: JobEventType extends NewJobEvent['type'] ? true : never = true;
void unionCoversEveryType;

/** An event as read back from the stream: with the stream entry id, which SSE sends as the event id. */
export type JobEvent = NewJobEvent & { id: string };
export type JobEventData<T extends JobEventType> = z.infer<(typeof jobEventDataSchemas)[T]>;
