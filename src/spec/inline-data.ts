import { z } from 'zod';
import { datasetSchema, type DatasetSpec } from './datasets.js';
import type { ExperimentSpec } from './experiments.js';
import { type JobSpec, type ResolvedJobSpec, jobSpecSchema, trainingSchema } from './job-spec.js';

/**
 * Inline datasets as Descent keeps them: the arrays a client posted live in the artifact store
 * (the JSON text of `{"x": [...], "y": [...]}`, exactly as parsed), and job records, the queue
 * and experiment records carry only this reference to them.
 */
export const inlineDataRefSchema = z
  .strictObject({
    artifact: z.string().min(1).describe('Artifact key of the JSON text of `{x, y}` (src/storage/artifact-keys.ts).'),
    samples: z.number().int().min(1).describe('Samples it holds.'),
    bytes: z.number().int().min(0).describe('Size of the JSON text.'),
  })
  .describe('Where an inline dataset is stored.');
export type InlineDataRef = z.infer<typeof inlineDataRefSchema>;

/** A dataset as records store it: an inline one as a reference to its stored arrays. */
export const storedDatasetSchema = z.strictObject({ ...datasetSchema.shape, inline: inlineDataRefSchema.optional() });
export type StoredDatasetSpec = z.infer<typeof storedDatasetSchema>;

/** A job spec as records and the queue store it: its datasets in their stored form. */
export const storedJobSpecSchema = jobSpecSchema.extend({
  dataset: storedDatasetSchema,
  training: trainingSchema.extend({ validationData: storedDatasetSchema.optional() }),
});

/** A spec with datasets of type D (the training data and the holdout). */
export type WithDatasets<S extends SpecWithData, D> = Omit<S, 'dataset' | 'training'> & {
  dataset: D;
  training: Omit<S['training'], 'validationData'> & { validationData?: D };
};
interface SpecWithData {
  dataset: unknown;
  training: { validationData?: unknown };
}

/** A job's resolved spec as its record and its queue entry carry it. */
export type StoredJobSpec = WithDatasets<ResolvedJobSpec, StoredDatasetSpec>;
/** A spec as submitted (a job's, an experiment's base), its inline data stored. */
export type StoredSpec = WithDatasets<JobSpec, StoredDatasetSpec>;

/** An experiment's spec as its record stores it: the base's inline data stored once for all its trials. */
export type StoredExperimentSpec = ExperimentSpec extends infer E ? (E extends { base: JobSpec } ? Omit<E, 'base'> & { base: StoredSpec } : never) : never;

/** The datasets of a spec, by where they sit in it. */
export const DATA_SLOTS = ['dataset', 'training.validationData'] as const;
export type DataSlot = (typeof DATA_SLOTS)[number];

/** The spec with each of its datasets replaced by `f` of it (awaited in order). */
export async function mapDatasets<S extends SpecWithData, D>(
  spec: S,
  f: (dataset: NonNullable<S['dataset'] | S['training']['validationData']>, slot: DataSlot) => D | Promise<D>,
): Promise<WithDatasets<S, D>> {
  const { validationData, ...training } = spec.training;
  const dataset = await f(spec.dataset as NonNullable<S['dataset']>, 'dataset');
  const holdout = validationData === undefined ? undefined : await f(validationData as NonNullable<S['dataset']>, 'training.validationData');
  return { ...spec, dataset, training: { ...training, ...(holdout === undefined ? {} : { validationData: holdout }) } } as WithDatasets<S, D>;
}

/** True for a stored reference; false for arrays (records written before inline data moved to the artifact store carry those). */
export const isInlineDataRef = (inline: unknown): inline is InlineDataRef => inlineDataRefSchema.safeParse(inline).success;

/** Bytes of the inline data a stored spec references (what reading it back adds to a response). */
export function referencedInlineBytes(spec: { dataset: StoredDatasetSpec; training: { validationData?: StoredDatasetSpec } }): number {
  return [spec.dataset, spec.training.validationData].reduce((n, d) => n + (isInlineDataRef(d?.inline) ? d.inline.bytes : 0), 0);
}

/** Sample count of a stored dataset when it is inline (without reading its data). */
export const storedInlineSamples = (d: StoredDatasetSpec | DatasetSpec): number | undefined =>
  d.inline === undefined ? undefined : 'samples' in d.inline ? d.inline.samples : d.inline.x.length;
