import {
  type AshaSpec,
  type Choices,
  type Distribution,
  type ExperimentSpec,
  type JobSpec,
  type Objective,
  type OptimizerComparisonSpec,
  type SchedulerSpec,
  type SearchExperimentSpec,
  type Space,
  isDistribution,
  jobSpecSchema,
  objectiveMode,
} from '../spec/index.js';
import { createRng } from '../shared/rng.js';
import { reportedMetrics } from './preflight.js';

/** `search`: a configuration of a search; `tune`/`rerun`: the two phases of the optimizer-comparison protocol. */
export type TrialPhase = 'search' | 'tune' | 'rerun';

/** One trial: a job spec, the parameters that made it, and the configuration it repeats with a seed. */
export interface TrialPlan {
  index: number;
  /** Trials of one configuration (differing only in seed) share this number. */
  config: number;
  phase: TrialPhase;
  /** The values drawn for each space path (at a `choices` path: the whole branch as drawn). */
  params: Record<string, unknown>;
  seed: number;
  /** Whether the experiment's scheduler may stop this trial early. */
  scheduled: boolean;
  spec: JobSpec;
}

/** A problem of one trial's spec: the trial, its parameters, and the path in its job spec. */
export interface TrialIssue {
  trial: number;
  params: Record<string, unknown>;
  path: (string | number)[];
  message: string;
}

/** The scheduler with every default decided (ASHA's maxEpochs filled in). */
export type ResolvedScheduler = Exclude<SchedulerSpec, AshaSpec> | (AshaSpec & { maxEpochs: number });

export interface ExperimentPlan {
  protocol: 'search' | 'optimizer-comparison';
  objective: Objective & { mode: 'min' | 'max' };
  scheduler: ResolvedScheduler;
  maxConcurrentTrials: number;
  /** The trials known at submission (for the protocol: the tuning trials). */
  trials: TrialPlan[];
  /** Trials the protocol adds once tuning ends (its reruns), counted against MAX_TRIALS up front. */
  laterTrials: number;
  /** Rerun seeds of the protocol. */
  rerunSeeds: number[];
}

export class ExperimentPlanError extends Error {
  constructor(readonly issues: { path: (string | number)[]; message: string }[]) {
    super(`the experiment has ${issues.length} problem(s)`);
  }
}

/** How many trials a spec asks for, computed without building them (to refuse oversized ones first). */
export function countTrials(spec: ExperimentSpec): number {
  if (spec.protocol === 'optimizer-comparison') {
    const rates = 'values' in spec.learningRates ? spec.learningRates.values.length : spec.learningRates.trials;
    return spec.optimizers.length * (rates + spec.seeds);
  }
  const seeds = Array.isArray(spec.seeds) ? spec.seeds.length : spec.seeds;
  if (spec.search.type === 'random') return spec.search.trials * seeds;
  let configs = 1;
  for (const dist of Object.values(spec.space))
    configs *= 'choices' in dist ? dist.choices.reduce((n, b) => n + branchCount(b), 0) : (gridValues(dist)?.length ?? 1);
  return configs * seeds;
}

const branchCount = (branch: Record<string, unknown>) =>
  Object.values(branch).reduce<number>((n, v) => n * (isDistribution(v) ? (gridValues(v)?.length ?? 1) : 1), 1);

/** The values a grid takes from a distribution; undefined for the continuous ones. */
function gridValues(d: Distribution): unknown[] | undefined {
  if ('values' in d) return d.values;
  if ('intRange' in d) return Array.from({ length: d.intRange[1] - d.intRange[0] + 1 }, (_, i) => d.intRange[0] + i);
  return undefined;
}

function draw(d: Distribution, rng: () => number): unknown {
  if ('values' in d) return d.values[Math.floor(rng() * d.values.length)];
  if ('intRange' in d) return d.intRange[0] + Math.floor(rng() * (d.intRange[1] - d.intRange[0] + 1));
  if ('uniform' in d) return d.uniform[0] + (d.uniform[1] - d.uniform[0]) * rng();
  const [lo, hi] = d.logUniform.map(Math.log) as [number, number];
  return Math.exp(lo + (hi - lo) * rng());
}

/** Every value a path takes in a grid: a distribution's values, or each branch of `choices` with its own grid. */
function gridAssignments(path: string, d: Distribution | Choices, issues: ExperimentPlanError['issues']): unknown[] {
  if (!('choices' in d)) {
    const values = gridValues(d);
    if (!values) issues.push({ path: ['space', path], message: 'a grid needs `values` or `intRange`; continuous ranges need search `random`' });
    return values ?? [];
  }
  return d.choices.flatMap((branch, b) => {
    let combos: Record<string, unknown>[] = [{}];
    for (const [key, v] of Object.entries(branch)) {
      const values = isDistribution(v) ? gridAssignments(`${path}.choices.${b}.${key}`, v, issues) : [v];
      combos = combos.flatMap((c) => values.map((value) => ({ ...c, [key]: value })));
    }
    return combos;
  });
}

function drawAssignment(d: Distribution | Choices, rng: () => number): unknown {
  if (!('choices' in d)) return draw(d, rng);
  const branch = d.choices[Math.floor(rng() * d.choices.length)]!;
  return Object.fromEntries(Object.entries(branch).map(([k, v]) => [k, isDistribution(v) ? draw(v, rng) : v]));
}

/** The configurations of a search: each a map from space path to value. */
function configurations(spec: SearchExperimentSpec): Record<string, unknown>[] {
  const entries = Object.entries(spec.space) as [string, Space[string]][];
  if (spec.search.type === 'random') {
    const rng = createRng(spec.search.seed);
    return Array.from({ length: spec.search.trials }, () => Object.fromEntries(entries.map(([path, d]) => [path, drawAssignment(d, rng)])));
  }
  const issues: ExperimentPlanError['issues'] = [];
  let configs: Record<string, unknown>[] = [{}];
  for (const [path, d] of entries) {
    const values = gridAssignments(path, d, issues);
    configs = configs.flatMap((c) => values.map((v) => ({ ...c, [path]: v })));
  }
  if (issues.length > 0) throw new ExperimentPlanError(issues);
  return configs;
}

/** Sets a dot path in a plain object (numeric segments index arrays), creating objects on the way. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node: Record<string, unknown> = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1)!] = value;
}

/** A trial's job spec: the base with the parameters and the seed applied, validated as a job spec. */
function trialSpec(
  base: JobSpec,
  params: Record<string, unknown>,
  seed: number,
  epochs: number | undefined,
  trial: number,
  issues: TrialIssue[],
): JobSpec | undefined {
  const draft = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [path, value] of Object.entries(params)) setPath(draft, path, value);
  setPath(draft, 'training.seed', seed);
  if (epochs !== undefined) setPath(draft, 'training.epochs', epochs);
  const parsed = jobSpecSchema.safeParse(draft);
  if (parsed.success) return parsed.data;
  for (const i of parsed.error.issues) issues.push({ trial, params, path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message });
  return undefined;
}

function resolveScheduler(s: SchedulerSpec, base: JobSpec): ResolvedScheduler {
  return s.type === 'asha' ? { ...s, maxEpochs: s.maxEpochs ?? base.training.epochs } : s;
}

/** The seeds each configuration is run with. */
export function seedList(seeds: number | number[], base: JobSpec): number[] {
  if (Array.isArray(seeds)) return seeds;
  const first = base.training.seed ?? 0;
  return Array.from({ length: seeds }, (_, k) => (first + k) % 2 ** 31);
}

/**
 * Expands an experiment into its trials (the protocol: into its tuning trials; the reruns follow
 * with planReruns). Throws ExperimentPlanError for a space that cannot be expanded and returns
 * the spec problems of each trial as TrialIssues.
 */
export function planExperiment(spec: ExperimentSpec): { plan: ExperimentPlan; issues: TrialIssue[] } {
  const base = spec.base;
  const objective = { ...spec.objective, mode: objectiveMode(spec.objective) };
  const reported = reportedMetrics(base);
  const planIssues: ExperimentPlanError['issues'] = [];
  if (!reported.includes(objective.metric)) {
    planIssues.push({ path: ['objective', 'metric'], message: `\`${objective.metric}\` is not reported by the base spec; it reports ${reported.join(', ')}` });
  }
  const scheduler = resolveScheduler(spec.scheduler, base);
  if (scheduler.type === 'asha' && scheduler.gracePeriod > scheduler.maxEpochs) {
    planIssues.push({ path: ['scheduler', 'gracePeriod'], message: `gracePeriod ${scheduler.gracePeriod} is past maxEpochs ${scheduler.maxEpochs}` });
  }
  if (planIssues.length > 0) throw new ExperimentPlanError(planIssues);
  const epochs = scheduler.type === 'asha' ? scheduler.maxEpochs : undefined;
  const issues: TrialIssue[] = [];
  const trials: TrialPlan[] = [];
  const common = { objective, scheduler, maxConcurrentTrials: spec.maxConcurrentTrials };
  let next = 0;
  if (spec.protocol === 'optimizer-comparison') {
    const [seed] = seedList(1, base);
    for (const name of spec.optimizers) {
      for (const learningRate of protocolRates(spec)) {
        const params = { optimizer: { name, learningRate } };
        const index = next++;
        const s = trialSpec(base, params, seed!, epochs, index, issues);
        if (s) trials.push({ index, config: index, phase: 'tune', params, seed: seed!, scheduled: true, spec: s });
      }
    }
    const rerunSeeds = seedList(spec.seeds, base);
    return { plan: { protocol: 'optimizer-comparison', ...common, trials, laterTrials: spec.optimizers.length * spec.seeds, rerunSeeds }, issues };
  }
  const seeds = seedList(spec.seeds, base);
  for (const [config, params] of configurations(spec).entries()) {
    for (const seed of seeds) {
      const index = next++;
      const s = trialSpec(base, params, seed, epochs, index, issues);
      if (s) trials.push({ index, config, phase: 'search', params, seed, scheduled: true, spec: s });
    }
  }
  return { plan: { protocol: 'search', ...common, trials, laterTrials: 0, rerunSeeds: [] }, issues };
}

/**
 * The learning rates the protocol tries, the same for every optimizer (common random numbers):
 * stratified log-uniform draws, one from each of `trials` equal slices of the log range, so even a
 * few cover it from end to end; in increasing order.
 */
function protocolRates(spec: OptimizerComparisonSpec): number[] {
  const lr = spec.learningRates;
  if ('values' in lr) return lr.values;
  const rng = createRng(lr.seed);
  const [lo, hi] = lr.logUniform.map(Math.log) as [number, number];
  return Array.from({ length: lr.trials }, (_, k) => Number(Math.exp(lo + ((hi - lo) * (k + rng())) / lr.trials).toPrecision(6)));
}

/**
 * The protocol's second phase: each optimizer's best tuning trial run again with every rerun seed,
 * all epochs (no scheduler), numbered after `next`. `best` maps an optimizer to its best tuning trial.
 */
export function planReruns<S extends { training: { seed?: number } }>(
  best: { spec: S; params: Record<string, unknown> }[],
  seeds: number[],
  next: number,
): (Omit<TrialPlan, 'spec'> & { spec: S; tuned: number })[] {
  const reruns: (Omit<TrialPlan, 'spec'> & { spec: S; tuned: number })[] = [];
  for (const [tuned, from] of best.entries()) {
    const config = next + reruns.length;
    for (const seed of seeds) {
      const spec: S = { ...from.spec, training: { ...from.spec.training, seed } };
      reruns.push({ index: next + reruns.length, config, phase: 'rerun', params: from.params, seed, scheduled: false, spec, tuned });
    }
  }
  return reruns;
}
