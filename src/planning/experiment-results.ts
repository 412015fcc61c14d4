import {
  type LeaderboardEntry,
  type Objective,
  type OptimizerSummary,
  type Stat,
  type Trial,
  type TrialProgress,
  betterThan,
  reachesTarget,
} from '../spec/index.js';

export const emptyProgress = (): TrialProgress => ({
  status: 'pending',
  epochs: 0,
  elapsedSeconds: 0,
  best: null,
  bestEpoch: null,
  final: null,
  epochsToTarget: null,
  secondsToTarget: null,
  stoppedBy: null,
  error: null,
});

/** The objective's value in an epoch's metrics (null when missing or not finite). */
export function objectiveValue(metrics: Record<string, unknown>, objective: Objective): number | null {
  const v = metrics[objective.metric];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Folds one finished epoch (its metrics and durationMs) into a trial's progress. */
export function observeEpoch(
  p: TrialProgress,
  epoch: { epoch: number; durationMs?: unknown } & Record<string, unknown>,
  objective: Objective & { mode: 'min' | 'max' },
): void {
  p.epochs = Math.max(p.epochs, epoch.epoch);
  p.elapsedSeconds = round(p.elapsedSeconds + (typeof epoch.durationMs === 'number' ? epoch.durationMs / 1000 : 0));
  const value = objectiveValue(epoch, objective);
  p.final = value;
  if (betterThan(value, p.best, objective.mode)) {
    p.best = value;
    p.bestEpoch = epoch.epoch;
  }
  if (p.epochsToTarget === null && reachesTarget(value, objective)) {
    p.epochsToTarget = epoch.epoch;
    p.secondsToTarget = p.elapsedSeconds;
  }
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Trials with a value, best first (ties: the lower trial number first). */
export function leaderboard(trials: Trial[], mode: 'min' | 'max'): LeaderboardEntry[] {
  return trials
    .filter((t) => t.best !== null)
    .sort((a, b) => (a.best === b.best ? a.index - b.index : betterThan(a.best, b.best, mode) ? -1 : 1))
    .map((t, i) => ({
      rank: i + 1,
      trial: t.index,
      jobId: t.jobId,
      optimizer: t.optimizer,
      learningRate: t.learningRate,
      params: t.params,
      seed: t.seed,
      status: t.status,
      stoppedBy: t.stoppedBy,
      epochs: t.epochs,
      best: t.best,
      final: t.final,
      epochsToTarget: t.epochsToTarget,
      secondsToTarget: t.secondsToTarget,
    }));
}

export function stat(values: (number | null)[]): Stat {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  if (v.length === 0) return { mean: null, std: null, n: 0 };
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const std = v.length < 2 ? null : Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1));
  return { mean, std, n: v.length };
}

const finished = (t: Trial) => t.status === 'completed' || t.status === 'failed';

/**
 * Per optimizer: its configuration with the best mean objective over seeds (for the protocol, its
 * reruns once one finished, the tuning trial that stands for a seed among them), summarised over
 * that configuration's seeds; best optimizer first.
 */
export function summarize(trials: Trial[], mode: 'min' | 'max'): OptimizerSummary[] {
  const byOptimizer = new Map<string, Trial[]>();
  for (const t of trials) byOptimizer.set(t.optimizer, [...(byOptimizer.get(t.optimizer) ?? []), t]);
  const summaries = [...byOptimizer].map(([optimizer, own]): OptimizerSummary => {
    const reruns = own.filter((t) => t.rerun);
    const pool = reruns.some(finished) ? reruns : own.filter((t) => t.phase !== 'rerun');
    const configs = new Map<number, Trial[]>();
    for (const t of pool.filter(finished)) configs.set(t.config, [...(configs.get(t.config) ?? []), t]);
    let chosen: Trial[] = [];
    let chosenMean: number | null = null;
    for (const group of configs.values()) {
      const mean = stat(group.map((t) => t.best)).mean;
      if (chosen.length === 0 || betterThan(mean, chosenMean, mode)) [chosen, chosenMean] = [group, mean];
    }
    const first = chosen[0];
    return {
      optimizer,
      trials: own.length,
      diverged: own.filter((t) => t.error === 'diverged').length,
      stopped: own.filter((t) => t.stoppedBy !== null).length,
      bestParams: first?.params ?? null,
      learningRate: first?.learningRate ?? null,
      seeds: chosen.length,
      best: stat(chosen.map((t) => t.best)),
      final: stat(chosen.map((t) => t.final)),
      epochsToTarget: stat(chosen.map((t) => t.epochsToTarget)),
      secondsToTarget: stat(chosen.map((t) => t.secondsToTarget)),
    };
  });
  return summaries.sort((a, b) => (a.best.mean === b.best.mean ? 0 : betterThan(a.best.mean, b.best.mean, mode) ? -1 : 1));
}
