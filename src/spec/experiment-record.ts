import { z } from 'zod';
import { experimentSpecSchema, objectiveSchema } from './experiments.js';
import { jobStatusSchema, stoppedBySchema } from './job-record.js';

export const EXPERIMENT_STATUSES = ['running', 'completed', 'cancelled'] as const;
export const experimentStatusSchema = z.enum(EXPERIMENT_STATUSES);
export type ExperimentStatus = z.infer<typeof experimentStatusSchema>;

export const schedulerDecisionSchema = z
  .object({
    trial: z.number().int(),
    epoch: z.number().int().describe('The rung (ASHA) or epoch (median) decided at.'),
    value: z.number().nullable().describe("The value judged: ASHA the trial's value at the rung, median its best so far."),
    cutoff: z.number().nullable().describe('The bar to meet (null: no other trial there yet).'),
    action: z.enum(['continue', 'stop']),
  })
  .meta({ id: 'SchedulerDecision' });

export const trialStatusSchema = z.union([z.literal('pending'), jobStatusSchema]).describe('`pending`: not queued yet (maxConcurrentTrials).');

/** What an experiment knows of one trial, updated from its job's events. */
export const trialProgressSchema = z.object({
  status: trialStatusSchema,
  epochs: z.number().int().describe('Epochs the trial finished.'),
  elapsedSeconds: z.number().describe('Training time of those epochs.'),
  best: z.number().nullable().describe('Best objective value over its epochs.'),
  bestEpoch: z.number().int().nullable(),
  final: z.number().nullable().describe('Objective value at its last epoch.'),
  epochsToTarget: z.number().int().nullable().describe('First epoch that reached the objective target (null: not reached, or no target).'),
  secondsToTarget: z.number().nullable().describe('Training seconds until that epoch.'),
  stoppedBy: stoppedBySchema.nullable(),
  error: z.string().nullable().describe("The failed job's error code (`diverged`, ...)."),
});
export type TrialProgress = z.infer<typeof trialProgressSchema>;

export const trialSchema = trialProgressSchema
  .extend({
    index: z.number().int(),
    jobId: z.string().describe('The job that trains it: GET /v1/jobs/{jobId} and every job route work on it.'),
    config: z.number().int().describe('Trials with the same configuration (other seeds) share this.'),
    phase: z.enum(['search', 'tune', 'rerun']),
    optimizer: z.string(),
    learningRate: z.number(),
    params: z.record(z.string(), z.unknown()).describe('The value of each space path.'),
    seed: z.number().int(),
    decisions: z.array(schedulerDecisionSchema).describe("The scheduler's decisions about it, in order."),
  })
  .meta({ id: 'Trial' });
export type Trial = z.infer<typeof trialSchema>;

export const leaderboardEntrySchema = z
  .object({
    rank: z.number().int().min(1),
    trial: z.number().int(),
    jobId: z.string(),
    optimizer: z.string(),
    learningRate: z.number(),
    params: z.record(z.string(), z.unknown()),
    seed: z.number().int(),
    status: trialStatusSchema,
    stoppedBy: stoppedBySchema.nullable(),
    epochs: z.number().int(),
    best: z.number().nullable(),
    final: z.number().nullable(),
    epochsToTarget: z.number().int().nullable(),
    secondsToTarget: z.number().nullable(),
  })
  .meta({ id: 'LeaderboardEntry' });
export type LeaderboardEntry = z.infer<typeof leaderboardEntrySchema>;

export const statSchema = z
  .object({ mean: z.number().nullable(), std: z.number().nullable().describe('Sample standard deviation (null below 2 values).'), n: z.number().int() })
  .meta({ id: 'Stat' });
export type Stat = z.infer<typeof statSchema>;

export const optimizerSummarySchema = z
  .object({
    optimizer: z.string(),
    trials: z.number().int(),
    diverged: z.number().int().describe('Trials that failed with code `diverged` (a NaN or infinite loss).'),
    stopped: z.number().int().describe('Trials the scheduler stopped early.'),
    bestParams: z.record(z.string(), z.unknown()).nullable().describe('The configuration summarised (best mean objective over its seeds).'),
    learningRate: z.number().nullable().describe('Its learning rate (the tuned one, for the protocol).'),
    seeds: z.number().int().describe('Trials of that configuration that finished.'),
    best: statSchema.describe('Best objective value per seed: mean and std.'),
    final: statSchema.describe('Final objective value per seed.'),
    epochsToTarget: statSchema.describe('Over the seeds that reached the target.'),
    secondsToTarget: statSchema,
  })
  .meta({ id: 'OptimizerSummary' });
export type OptimizerSummary = z.infer<typeof optimizerSummarySchema>;

/** The quotas that hold a trial back: a queued-plus-running slot, and room for the artifacts it will write. */
export const TRIAL_QUOTAS = ['activeJobs', 'artifactBytes'] as const;

export const trialWaitSchema = z
  .object({
    trial: z.number().int(),
    jobId: z.string(),
    quota: z.enum(TRIAL_QUOTAS).describe("The tenant's quota that has no room for it."),
    used: z.number().int(),
    limit: z.number().int(),
  })
  .describe('A trial waiting for room in a tenant quota before it is queued; a later reconcile queues it once room frees.')
  .meta({ id: 'TrialWait' });
export type TrialWait = z.infer<typeof trialWaitSchema>;

export const experimentRecordSchema = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    status: experimentStatusSchema,
    protocol: z.enum(['search', 'optimizer-comparison']),
    phase: z.enum(['search', 'tune', 'rerun']).describe('The phase running (the protocol tunes, then reruns).'),
    spec: experimentSpecSchema,
    objective: objectiveSchema.extend({ mode: z.enum(['min', 'max']) }),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
    counts: z.record(z.string(), z.number().int()).describe('Trials per status.'),
    waitingFor: trialWaitSchema.nullable().describe('The next trial, while it waits for room in a tenant quota (null: none waits).'),
    trials: z.array(trialSchema),
    leaderboard: z.array(leaderboardEntrySchema).describe('Trials with a value, best first.'),
    summary: z.array(optimizerSummarySchema).describe('Per optimizer, best first.'),
  })
  .meta({ id: 'Experiment' });
export type ExperimentRecord = z.infer<typeof experimentRecordSchema>;

export const experimentListItemSchema = experimentRecordSchema.pick({
  id: true,
  name: true,
  status: true,
  protocol: true,
  phase: true,
  objective: true,
  createdAt: true,
  finishedAt: true,
  counts: true,
  waitingFor: true,
});

export const experimentCurvesSchema = z
  .object({
    metric: z.string(),
    epochs: z.array(z.number().int()).describe('1..the most epochs any trial ran.'),
    trials: z.array(
      z.object({
        trial: z.number().int(),
        jobId: z.string(),
        optimizer: z.string(),
        params: z.record(z.string(), z.unknown()),
        seed: z.number().int(),
        values: z.array(z.number().nullable()).describe('One per epoch; null where the trial has none.'),
      }),
    ),
  })
  .meta({ id: 'ExperimentCurves' });
export type ExperimentCurves = z.infer<typeof experimentCurvesSchema>;

/** The experiment's event stream (SSE `event:` names); `completed` and `cancelled` end it. */
export const EXPERIMENT_EVENT_TYPES = [
  'trial_waiting',
  'trial_started',
  'trial_epoch',
  'trial_stopped',
  'trial_ended',
  'phase',
  'completed',
  'cancelled',
] as const;
export type ExperimentEventType = (typeof EXPERIMENT_EVENT_TYPES)[number];
export const EXPERIMENT_TERMINAL_EVENTS: readonly ExperimentEventType[] = ['completed', 'cancelled'];

const trialTag = { trial: z.number().int(), jobId: z.string() };
export const experimentEventSchemas = {
  trial_waiting: trialWaitSchema,
  trial_started: z.object({ ...trialTag, attempt: z.number().int(), params: z.record(z.string(), z.unknown()), seed: z.number().int() }),
  trial_epoch: z
    .object({ ...trialTag, epoch: z.number().int() })
    .catchall(z.unknown())
    .describe("The trial's epoch event, tagged with the trial."),
  trial_stopped: z.object({ ...trialTag, stoppedBy: stoppedBySchema, decision: schedulerDecisionSchema }),
  trial_ended: z.object({
    ...trialTag,
    status: jobStatusSchema,
    epochs: z.number().int(),
    stoppedBy: stoppedBySchema.nullable(),
    error: z.string().nullable(),
  }),
  phase: z.object({ phase: z.enum(['rerun']), trials: z.array(z.number().int()) }),
  completed: z.object({ status: z.literal('completed'), at: z.string(), counts: z.record(z.string(), z.number().int()) }),
  cancelled: z.object({ status: z.literal('cancelled'), at: z.string() }),
} satisfies Record<ExperimentEventType, z.ZodType>;
