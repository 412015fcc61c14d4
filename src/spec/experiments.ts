import { z } from 'zod';
import { jobSpecSchema, metricMode } from './job-spec.js';
import { OPTIMIZER_NAMES } from './optimizers.js';

/** The optimizers of the classic comparison (the seed's seven): the preset's default. */
export const CLASSIC_OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adagrad', 'adadelta', 'rmsprop', 'adam'] as const;

const range = (item: z.ZodNumber) => z.tuple([item, item]).refine(([a, b]) => a <= b, { message: 'the range is [low, high] with low <= high' });

export const valuesDistributionSchema = z.strictObject({
  values: z.array(z.unknown()).min(1).max(1_000).describe('Each of these values (grid), or one of them at random.'),
});
export const distributionSchema = z
  .union([
    valuesDistributionSchema,
    z.strictObject({ uniform: range(z.number()).describe('A float drawn uniformly from [low, high] (random search only).') }),
    z.strictObject({ logUniform: range(z.number().gt(0)).describe('A float whose logarithm is uniform in [log low, log high] (random search only).') }),
    z.strictObject({ intRange: range(z.number().int()).describe('An integer in [low, high], both included (grid: every one).') }),
  ])
  .describe('Values of one spec path: `values`, `uniform`, `logUniform` or `intRange`.')
  .meta({ id: 'Distribution' });
export type Distribution = z.infer<typeof distributionSchema>;
const DISTRIBUTION_KEYS = ['values', 'uniform', 'logUniform', 'intRange'] as const;

/** True when a branch parameter is a distribution rather than a fixed value. */
export function isDistribution(v: unknown): v is Distribution {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && DISTRIBUTION_KEYS.some((k) => k in v);
}

export const choicesSchema = z
  .strictObject({
    choices: z
      .array(z.record(z.string(), z.unknown()))
      .min(1)
      .max(50)
      .describe(
        'Conditional branches: each is the whole value at this path (at `optimizer`: `{"name": "momentum", "momentum": {"values": [0.9, 0.99]}}`), ' +
          'and any of its fields may be a distribution, so each branch has parameters of its own.',
      ),
  })
  .meta({ id: 'Choices' });
export type Choices = z.infer<typeof choicesSchema>;

export const SPACE_PATH = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$/;
export const spaceSchema = z
  .record(z.string().regex(SPACE_PATH, 'a dot path into the job spec, e.g. optimizer.learningRate'), z.union([distributionSchema, choicesSchema]))
  .refine((s) => Object.keys(s).length <= 32, { message: 'at most 32 paths' })
  .describe('Spec paths to vary (dot paths into the job spec, e.g. `optimizer.learningRate`, `training.batchSize`, or `optimizer` with `choices`).');
export type Space = z.infer<typeof spaceSchema>;

export const searchSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('grid') }),
    z.strictObject({
      type: z.literal('random'),
      trials: z.number().int().min(1).max(10_000).describe('Configurations to draw.'),
      seed: z
        .number()
        .int()
        .min(0)
        .max(2 ** 31 - 1)
        .default(0)
        .describe('Seed of the draws: the same seed, the same configurations.'),
    }),
  ])
  .describe('`grid`: every combination of `values`/`intRange`; `random`: `trials` configurations drawn with `seed`.');

export const seedsSchema = z
  .union([
    z.number().int().min(1).max(100),
    z
      .array(
        z
          .number()
          .int()
          .min(0)
          .max(2 ** 31 - 1),
      )
      .min(1)
      .max(100),
  ])
  .describe('Repeats of each configuration: a count (seeds base.training.seed + 0, 1, ... with base seed 0 when absent) or the seeds themselves.');

export const objectiveSchema = z
  .strictObject({
    metric: z.string().min(1).max(64).describe('An epoch metric: `loss`, `val_loss`, `accuracy`, `val_accuracy`, ...'),
    mode: z.enum(['min', 'max']).optional().describe('Default: `max` for accuracies, `min` for losses and errors.'),
    target: z.number().optional().describe('A value to reach: trials report the epochs and seconds it took them.'),
  })
  .describe("What ranks trials: the best value of `metric` over a trial's epochs.")
  .meta({ id: 'Objective' });
export type Objective = z.infer<typeof objectiveSchema>;

export const ashaSchema = z.strictObject({
  type: z.literal('asha'),
  maxEpochs: z.number().int().min(1).optional().describe('Epochs of a trial that is never stopped (Ray `max_t`); default: base.training.epochs.'),
  gracePeriod: z.number().int().min(1).default(1).describe('First rung: no trial is stopped before this epoch (Ray `grace_period`).'),
  reductionFactor: z
    .number()
    .int()
    .min(2)
    .max(16)
    .default(4)
    .describe('Rungs at gracePeriod x rf^k; at each, a trial goes on only if it is in the top 1/rf so far (Ray `reduction_factor`).'),
});
export const medianSchema = z.strictObject({
  type: z.literal('median'),
  gracePeriod: z.number().int().min(1).default(1).describe('No trial is stopped before this epoch.'),
  minTrials: z.number().int().min(1).default(3).describe('Others that must have reached the epoch before a trial can be stopped there.'),
});
export const schedulerSchema = z
  .discriminatedUnion('type', [z.strictObject({ type: z.literal('none') }), ashaSchema, medianSchema])
  .describe(
    "`asha`: asynchronous successive halving as Ray Tune's ASHAScheduler; `median`: stop a trial whose best so far is worse than the median " +
      "of the other trials' values at the same epoch (Optuna's MedianPruner, asynchronous); `none`: every trial runs all its epochs.",
  )
  .meta({ id: 'Scheduler' });
export type SchedulerSpec = z.infer<typeof schedulerSchema>;
export type AshaSpec = z.infer<typeof ashaSchema>;
export type MedianSpec = z.infer<typeof medianSchema>;

const maxConcurrentTrials = z.number().int().min(1).max(256).default(4).describe('Trials queued or training at once; the next is queued as one ends.');

export const searchExperimentSchema = z
  .strictObject({
    protocol: z.literal('search').optional().describe('A search over `space` (the default).'),
    name: z.string().min(1).max(200).optional(),
    base: jobSpecSchema.describe('The job spec every trial starts from.'),
    space: spaceSchema.default({}),
    search: searchSchema.default({ type: 'grid' }),
    seeds: seedsSchema.default(1),
    objective: objectiveSchema,
    scheduler: schedulerSchema.default({ type: 'none' }),
    maxConcurrentTrials,
  })
  .describe('A search: every configuration of `space` (grid or random), each run once per seed.');
export type SearchExperimentSpec = z.infer<typeof searchExperimentSchema>;

export const optimizerComparisonSchema = z
  .strictObject({
    protocol: z.literal('optimizer-comparison'),
    name: z.string().min(1).max(200).optional(),
    base: jobSpecSchema.describe('The job spec every trial starts from (its optimizer is replaced).'),
    optimizers: z
      .array(z.enum(OPTIMIZER_NAMES as [string, ...string[]]))
      .min(1)
      .max(OPTIMIZER_NAMES.length)
      .refine((o) => new Set(o).size === o.length, { message: 'each optimizer once' })
      .default([...CLASSIC_OPTIMIZERS])
      .describe('Optimizers to compare, each with its default hyperparameters except the learning rate.'),
    learningRates: z
      .union([
        z.strictObject({ logUniform: range(z.number().gt(0)), trials: z.number().int().min(1).max(100).default(8), seed: z.number().int().min(0).default(0) }),
        valuesDistributionSchema.extend({ values: z.array(z.number().gt(0)).min(1).max(100) }),
      ])
      .default({ logUniform: [1e-5, 1], trials: 8, seed: 0 })
      .describe(
        'Learning rates tried per optimizer: `trials` drawn log-uniformly with `seed`, one from each of `trials` equal slices of the log range, or the `values` given.',
      ),
    seeds: z.number().int().min(1).max(20).default(3).describe("Reruns of each optimizer's best learning rate, with seeds base seed + 0, 1, ..."),
    objective: objectiveSchema,
    scheduler: z
      .union([ashaSchema, z.strictObject({ type: z.literal('none') })])
      .default({ type: 'asha', gracePeriod: 1, reductionFactor: 3 })
      .describe('Early stopping of the tuning trials (the reruns always run all epochs).'),
    maxConcurrentTrials,
  })
  .describe(
    "The optimizer-comparison protocol: tune each optimizer's learning rate (one seed, with the scheduler), rerun each one's best with " +
      '`seeds` seeds, and report per optimizer the best and final objective (mean and std over seeds), epochs and seconds to target, the tuned rate and the diverged trials.',
  );
export type OptimizerComparisonSpec = z.infer<typeof optimizerComparisonSchema>;

export const experimentSpecSchema = z
  .discriminatedUnion('protocol', [searchExperimentSchema, optimizerComparisonSchema])
  .describe('An experiment: a search over a job spec, or a protocol preset.')
  .meta({ id: 'ExperimentSpec' });
export type ExperimentSpecInput = z.input<typeof experimentSpecSchema>;
export type ExperimentSpec = z.output<typeof experimentSpecSchema>;

/** The objective's direction: given, or the metric's own (accuracies up, losses and errors down). */
export function objectiveMode(o: Objective): 'min' | 'max' {
  return o.mode ?? metricMode(o.metric);
}

/** True when `a` is a better objective value than `b` (a finite value beats null). */
export function betterThan(a: number | null, b: number | null, mode: 'min' | 'max'): boolean {
  if (a === null || !Number.isFinite(a)) return false;
  if (b === null || !Number.isFinite(b)) return true;
  return mode === 'min' ? a < b : a > b;
}

/** True when `value` reaches the objective's target. */
export function reachesTarget(value: number | null, o: Objective): boolean {
  if (o.target === undefined || value === null || !Number.isFinite(value)) return false;
  return objectiveMode(o) === 'min' ? value <= o.target : value >= o.target;
}
