import { z } from 'zod';
import { backendNameSchema } from './backends.js';
import { jobSpecSchema } from './job-spec.js';
import { fittedPreprocessingSchema } from './preprocessing.js';

export const JOB_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export const jobStatusSchema = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof jobStatusSchema>;
export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];
export const isTerminal = (s: JobStatus): boolean => TERMINAL_STATUSES.includes(s);

/** Why a job failed: the `code` of the record's `error` and of the `failed` event, stable and machine-readable. */
export const JOB_ERROR_CODES = [
  'invalid_model',
  'training_error',
  'worker_crashed',
  'diverged',
  'timeout',
  'out_of_memory',
  'dataset_unavailable',
  'dataset_not_found',
  'enqueue_failed',
  'cancelled',
  'engine_unavailable',
] as const;
export const jobErrorCodeSchema = z
  .enum(JOB_ERROR_CODES)
  .describe(
    'invalid_model: tfjs cannot build the model; training_error: training threw; worker_crashed: the training process died on every attempt; ' +
      'diverged: the loss became NaN or infinite; timeout: over maxRuntimeSeconds; out_of_memory: over the training process memory cap; ' +
      'dataset_unavailable / dataset_not_found: the data could not be loaded / was deleted; enqueue_failed: the queue refused the job; ' +
      'cancelled: stopped while training.',
  );
export type JobErrorCode = z.infer<typeof jobErrorCodeSchema>;
export const jobErrorSchema = z.object({ code: jobErrorCodeSchema, message: z.string() });
export type JobError = z.infer<typeof jobErrorSchema>;

export const epochMetricsSchema = z
  .object({ epoch: z.number().int().min(1), loss: z.number().nullable() })
  .catchall(z.number().nullable())
  .describe('Metrics at the end of one epoch (val_* for the validation split).');
export type EpochMetrics = z.infer<typeof epochMetricsSchema>;

export const modelCostSchema = z
  .object({
    totalParams: z.number(),
    trainableParams: z.number(),
    flopsPerSample: z.number().describe('Forward pass (a multiply-add counts 2).'),
    trainingFlops: z.number().nullable().describe('The whole job, forward and backward (about 3x forward x samples x epochs), when the sample count is known.'),
    trainingMemoryBytes: z.number().nullable().describe('Estimated memory of one training step (weights, gradients, optimizer state, a batch of activations), when the batch size is known.'),
  })
  .describe("The model's size and cost, as POST /v1/models/summary computes them.")
  .meta({ id: 'ModelCost' });
export type ModelCost = z.infer<typeof modelCostSchema>;

export const engineRunSchema = z
  .object({
    name: z.enum(['graph', 'eager']).describe('`graph`: each step one TensorFlow graph; `eager`: tfjs op by op.'),
    fallbackReason: z.string().optional().describe('Why `auto` trained on the eager engine instead of the graph one.'),
  })
  .meta({ id: 'EngineRun' });
export type EngineRun = z.infer<typeof engineRunSchema>;

export const jobRecordSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  status: jobStatusSchema,
  spec: jobSpecSchema.describe('The resolved spec: defaults, loss and seed filled in, presets expanded.'),
  cost: modelCostSchema.nullable(),
  createdAt: z.string().describe('ISO 8601.'),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  epoch: z.number().int().min(0).describe('Epochs completed so far.'),
  epochs: z.number().int().min(1).describe('Epochs asked for.'),
  history: z.array(epochMetricsSchema),
  backend: backendNameSchema.nullable().describe('tfjs backend that trained the job (null: not started).'),
  engine: engineRunSchema.nullable().describe('The training engine that ran the job (null: not started yet).'),
  versions: z.record(z.string(), z.string()).nullable().describe('Package versions the job ran with.'),
  attempts: z.number().int().min(0).describe('Times a worker started this job.'),
  checkpointEpoch: z.number().int().nullable().describe('Last epoch saved in a checkpoint; a restarted job resumes after it.'),
  preprocessing: fittedPreprocessingSchema.nullable().describe('What `preprocessing` fitted on the training data, once the job completed (null: none).'),
  error: jobErrorSchema.nullable(),
}).meta({ id: 'JobRecord' });
export type JobRecord = z.infer<typeof jobRecordSchema>;

