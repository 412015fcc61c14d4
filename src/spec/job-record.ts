import { z } from 'zod';
import { backendNameSchema } from './backends.js';
import { datasetSchema, type DatasetSpec } from './datasets.js';
import { type JobSpec, jobSpecSchema, trainingSchema } from './job-spec.js';
import { fittedPreprocessingSchema } from './preprocessing.js';
import { type StoredDatasetSpec, type StoredSpec, storedInlineSamples } from './inline-data.js';

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
  'storage_unavailable',
  'start_failed',
] as const;
export const jobErrorCodeSchema = z
  .enum(JOB_ERROR_CODES)
  .describe(
    'invalid_model: tfjs cannot build the model; training_error: training threw; worker_crashed: the training process died on every attempt; ' +
      'diverged: the loss became NaN or infinite; timeout: over maxRuntimeSeconds; out_of_memory: over the training process memory cap; ' +
      'dataset_unavailable / dataset_not_found: the data could not be loaded / was deleted; enqueue_failed: the queue refused the job; ' +
      'cancelled: stopped while training; storage_unavailable: the artifact store failed on every attempt; ' +
      'start_failed: no worker could start the job (its record could not be read or moved to running) on any attempt.',
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
    trainingMemoryBytes: z
      .number()
      .nullable()
      .describe('Estimated memory of one training step (weights, gradients, optimizer state, a batch of activations), when the batch size is known.'),
  })
  .describe("The model's size and cost, as POST /v1/models/summary computes them.")
  .meta({ id: 'ModelCost' });
export type ModelCost = z.infer<typeof modelCostSchema>;

/** The experiment scheduler that stopped a trial early (the trial still ends `completed`). */
export const stoppedBySchema = z.enum(['asha', 'median']).describe('The experiment scheduler that stopped the trial early (it ends `completed`).');
export type StoppedBy = z.infer<typeof stoppedBySchema>;
export const engineRunSchema = z
  .object({
    name: z.enum(['graph', 'eager']).describe('`graph`: each step one TensorFlow graph; `eager`: tfjs op by op.'),
    fallbackReason: z.string().optional().describe('Why `auto` trained on the eager engine instead of the graph one.'),
  })
  .meta({ id: 'EngineRun' });
export type EngineRun = z.infer<typeof engineRunSchema>;

export const jobRecordSchema = z
  .object({
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
    attempts: z
      .number()
      .int()
      .min(0)
      .describe(
        'Attempts spent on this job, the one running included (at most JOB_ATTEMPTS): a crash or a retried failure spends one; ' +
          'a worker shutdown does not (the job resumes on the same attempt).',
      ),
    starts: z.number().int().min(0).describe('Times a worker started this job, resumes after a worker shutdown included.'),
    checkpointEpoch: z.number().int().nullable().describe('Last epoch saved in a checkpoint; a restarted job resumes after it.'),
    preprocessing: fittedPreprocessingSchema.nullable().describe('What `preprocessing` fitted on the training data, once the job completed (null: none).'),
    error: jobErrorSchema.nullable(),
    experimentId: z.string().nullable().describe('The experiment this job is a trial of (GET /v1/experiments/{experimentId}).'),
    trial: z.number().int().nullable().describe('Its trial number in that experiment.'),
    stoppedBy: stoppedBySchema.nullable().describe("Set when the experiment's scheduler stopped the trial early: it completed at `epoch`, before `epochs`."),
    storedBytes: z
      .object({
        artifactBytes: z.number().int().describe('Bytes it holds in the artifact store (its trained model, its checkpoints while it has any, its data).'),
        datasetBytes: z.number().int().describe('Bytes of dataset it holds, counted after decompression.'),
      })
      .describe("What the job holds, counted in its tenant's quotas of the same names; deleting the job gives it back."),
  })
  .meta({ id: 'JobRecord' });
export type JobRecord = z.infer<typeof jobRecordSchema>;
/** A job record as Redis holds it: its inline data a reference into the artifact store. */
export type StoredJobRecord = Omit<JobRecord, 'spec'> & { spec: StoredSpec };

/** A dataset as job lists show it: an inline dataset's `x` and `y` replaced by their sample count. */
export const listedDatasetSchema = z
  .strictObject({
    ...datasetSchema.shape,
    inline: z.strictObject({ samples: z.number().int().describe('Samples the inline dataset carries (its data is in the full view).') }).optional(),
  })
  .describe('The dataset; an inline one shows its sample count instead of its data.');

/** The spec as job lists show it: everything but inline data. */
export const listedJobSpecSchema = jobSpecSchema.extend({
  dataset: listedDatasetSchema,
  training: trainingSchema.extend({ validationData: listedDatasetSchema.optional() }),
});
export type ListedJobSpec = z.infer<typeof listedJobSpecSchema>;

/** A job in a list (GET /v1/jobs): the record without its history (its last epoch instead) and without inline data. */
export const jobListItemSchema = jobRecordSchema
  .omit({ spec: true, history: true })
  .extend({
    spec: listedJobSpecSchema.describe('The resolved spec, inline data left out (`?view=full` has it).'),
    lastEpoch: epochMetricsSchema.nullable().describe("The last epoch's metrics: the last entry of the record's `history` (null before the first epoch)."),
  })
  .meta({ id: 'JobListItem' });
export type JobListItem = z.infer<typeof jobListItemSchema>;

const listedDataset = (d: DatasetSpec | StoredDatasetSpec): z.infer<typeof listedDatasetSchema> => {
  const samples = storedInlineSamples(d);
  if (samples === undefined) return d as z.infer<typeof listedDatasetSchema>;
  return { ...d, inline: { samples } };
};

/** The spec without its inline data, as lists show it (from the spec as posted or as stored). */
export function listedSpec(spec: JobSpec | StoredSpec): ListedJobSpec {
  const { validationData, ...training } = spec.training;
  return {
    ...spec,
    dataset: listedDataset(spec.dataset),
    training: { ...training, ...(validationData ? { validationData: listedDataset(validationData) } : {}) },
  };
}
