import type { AshaSpec, MedianSpec } from '../spec/index.js';
import type { ResolvedScheduler } from './experiment-plan.js';

/**
 * What a scheduler recorded so far: per rung (ASHA: a milestone epoch; median: every epoch), the
 * trials that reached it and their objective values, in the order they arrived. Plain JSON: the
 * experiment store keeps it in Redis, and decisions depend only on it and the arriving result.
 */
export interface SchedulerRecords {
  [epoch: string]: [trial: number, value: number | null][];
}

export interface SchedulerDecision {
  trial: number;
  epoch: number;
  /** The value the decision judged: ASHA the trial's value at the rung, median its best so far. */
  value: number | null;
  /** The bar it had to meet (null: nothing to compare with yet, so it goes on). */
  cutoff: number | null;
  action: 'continue' | 'stop';
}

/** numpy's percentile (linear interpolation) of the finite values; null when there are none. */
export function percentile(values: (number | null)[], p: number): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const rank = (p / 100) * (v.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return v[lo]! + (v[hi]! - v[lo]!) * (rank - lo);
}

/** ASHA's rungs: gracePeriod x reductionFactor^k up to maxEpochs, ascending. */
export function ashaMilestones(a: Pick<AshaSpec, 'gracePeriod' | 'reductionFactor'> & { maxEpochs: number }): number[] {
  const rungs: number[] = [];
  for (let m = a.gracePeriod; m <= a.maxEpochs; m *= a.reductionFactor) rungs.push(m);
  return rungs;
}

/** Larger is better, as Ray's schedulers compare (a `min` objective is negated). */
const reward = (value: number | null, mode: 'min' | 'max') => (value === null || !Number.isFinite(value) ? null : mode === 'min' ? -value : value);
const fromReward = (r: number | null, mode: 'min' | 'max') => (r === null ? null : mode === 'min' ? -r : r);

/**
 * Asynchronous successive halving, as Ray Tune's ASHAScheduler (one bracket): when a trial reaches
 * a rung it has no result at yet, the cutoff is the (1 - 1/rf) percentile of the rewards recorded
 * there before it; a trial below the cutoff stops, and either way its result is recorded. The
 * first trials at a rung always go on (nothing to compare with), so no trial waits for others.
 * A result with no value (NaN) stops the trial whenever there is a cutoff and is not recorded.
 * Records the result in `records` and returns the decision, or undefined when `epoch` is no rung.
 */
export function ashaOnResult(
  asha: Pick<AshaSpec, 'gracePeriod' | 'reductionFactor'> & { maxEpochs: number },
  mode: 'min' | 'max',
  records: SchedulerRecords,
  result: { trial: number; epoch: number; value: number | null },
): SchedulerDecision | undefined {
  const milestones = ashaMilestones(asha).reverse();
  for (const milestone of milestones) {
    const recorded = (records[milestone] ??= []);
    const seen = recorded.some(([t]) => t === result.trial);
    if (result.epoch >= milestone && seen) return undefined;
    if (result.epoch < milestone || seen) continue;
    const cut = percentile(
      recorded.map(([, v]) => reward(v, mode)),
      (1 - 1 / asha.reductionFactor) * 100,
    );
    const r = reward(result.value, mode);
    const stop = cut !== null && (r === null || r < cut);
    if (r !== null) recorded.push([result.trial, result.value]);
    return { trial: result.trial, epoch: milestone, value: result.value, cutoff: fromReward(cut, mode), action: stop ? 'stop' : 'continue' };
  }
  return undefined;
}

/**
 * The median stopping rule, asynchronous (Optuna's MedianPruner over the trials that got there
 * first): from `gracePeriod` on, a trial whose best value so far is worse than the median of the
 * values the other trials recorded at the same epoch stops, once at least `minTrials` others have.
 * Records the trial's value at this epoch and returns the decision (undefined before the grace period
 * or with too few others).
 */
export function medianOnResult(
  median: Pick<MedianSpec, 'gracePeriod' | 'minTrials'>,
  mode: 'min' | 'max',
  records: SchedulerRecords,
  result: { trial: number; epoch: number; value: number | null; best: number | null },
): SchedulerDecision | undefined {
  const recorded = (records[result.epoch] ??= []);
  const others = recorded.filter(([t]) => t !== result.trial);
  if (others.length < recorded.length) return undefined;
  recorded.push([result.trial, result.value]);
  if (result.epoch < median.gracePeriod || others.length < median.minTrials) return undefined;
  const cut = percentile(
    others.map(([, v]) => reward(v, mode)),
    50,
  );
  const r = reward(result.best, mode);
  const stop = cut !== null && (r === null || r < cut);
  return { trial: result.trial, epoch: result.epoch, value: result.best, cutoff: fromReward(cut, mode), action: stop ? 'stop' : 'continue' };
}

/**
 * The first epoch after `after` at which `scheduler` may stop `trial`, a trial of `epochs` epochs,
 * given what it recorded so far; undefined when it can stop the trial no more (a decision at the
 * last epoch changes nothing). The trial waits for its experiment's verdict there and trains on
 * without waiting at every other epoch, so this must include every epoch a stop can come from:
 * ASHA decides at its rungs, and again at each later epoch while the trial has no value recorded
 * at the rung it last passed (a NaN there); the median rule at every epoch from its grace period.
 */
export function nextDecisionEpoch(scheduler: ResolvedScheduler, records: SchedulerRecords, trial: number, after: number, epochs: number): number | undefined {
  let next: number | undefined;
  if (scheduler.type === 'median') next = Math.max(after + 1, scheduler.gracePeriod);
  if (scheduler.type === 'asha') {
    const rungs = ashaMilestones(scheduler);
    const passed = rungs.filter((m) => m <= after).at(-1);
    const pending = passed !== undefined && !(records[passed] ?? []).some(([t]) => t === trial);
    next = pending ? after + 1 : rungs.find((m) => m > after);
  }
  return next !== undefined && next < epochs ? next : undefined;
}
