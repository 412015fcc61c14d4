import { describe, expect, it } from 'vitest';
import { ExperimentPlanError, countTrials, emptyProgress, planExperiment, planReruns, stat, leaderboard, summarize } from '../src/planning/index.js';
import { type ExperimentSpecInput, type Trial, type TrialProgress, experimentSpecSchema } from '../src/spec/index.js';
import { xorSpec } from './helpers.js';

const parse = (input: ExperimentSpecInput) => experimentSpecSchema.parse(input);
const base = xorSpec({ training: { epochs: 9, batchSize: 4, seed: 7 } });
const objective = { metric: 'loss' };

describe('trial expansion', () => {
  it('grids conditional choices: each optimizer with its own parameters, every configuration once per seed', () => {
    const spec = parse({
      base,
      space: {
        optimizer: {
          choices: [
            { name: 'sgd', learningRate: { values: [0.1, 0.3] } },
            { name: 'momentum', learningRate: { values: [0.01, 0.1] }, momentum: { values: [0.9, 0.99] } },
          ],
        },
        'training.batchSize': { intRange: [2, 3] },
      },
      seeds: 2,
      objective,
    });
    const { plan, issues } = planExperiment(spec);
    expect(issues).toEqual([]);
    expect(plan.trials).toHaveLength((2 + 4) * 2 * 2);
    expect(countTrials(spec)).toBe(plan.trials.length);
    expect(plan.trials.map((t) => t.seed).slice(0, 4)).toEqual([7, 8, 7, 8]);
    expect(plan.trials.map((t) => t.config).slice(0, 4)).toEqual([0, 0, 1, 1]);
    expect(plan.trials[0]!.params).toEqual({ optimizer: { name: 'sgd', learningRate: 0.1 }, 'training.batchSize': 2 });
    expect(plan.trials[0]!.spec.optimizer).toMatchObject({ name: 'sgd', learningRate: 0.1, momentum: 0 });
    const momentum = plan.trials.filter((t) => t.spec.optimizer.name === 'momentum').map((t) => t.spec.optimizer);
    expect(new Set(momentum.map((o) => JSON.stringify([o.learningRate, 'momentum' in o ? o.momentum : null]))).size).toBe(4);
    expect(plan.trials.every((t) => t.spec.training.batchSize === t.params['training.batchSize'])).toBe(true);
  });

  it('draws random configurations from a seed: the same seed, the same trials, inside their ranges', () => {
    const input: ExperimentSpecInput = {
      base,
      space: { 'optimizer.learningRate': { logUniform: [1e-4, 1] }, 'training.batchSize': { values: [2, 4] } },
      search: { type: 'random', trials: 20, seed: 3 },
      objective,
    };
    const a = planExperiment(parse(input)).plan.trials;
    expect(a).toHaveLength(20);
    expect(planExperiment(parse(input)).plan.trials.map((t) => t.params)).toEqual(a.map((t) => t.params));
    const other = planExperiment(parse({ ...input, search: { type: 'random', trials: 20, seed: 4 } })).plan.trials;
    expect(other.map((t) => t.params)).not.toEqual(a.map((t) => t.params));
    for (const t of a) {
      expect(t.spec.optimizer.learningRate).toBeGreaterThanOrEqual(1e-4);
      expect(t.spec.optimizer.learningRate).toBeLessThanOrEqual(1);
    }
    expect(new Set(a.map((t) => t.spec.training.batchSize))).toEqual(new Set([2, 4]));
  });

  it('names the trial, its parameters and the spec path of every invalid trial', () => {
    const spec = parse({
      base,
      space: { optimizer: { choices: [{ name: 'adam' }, { name: 'sgd', beta1: { values: [0.9] } }] }, 'training.epochs': { values: [5, 0] } },
      objective,
    });
    const { issues } = planExperiment(spec);
    expect(issues.map((i) => [i.trial, i.path.join('.')])).toEqual([
      [1, 'training.epochs'],
      [2, 'optimizer'],
      [3, 'optimizer'],
      [3, 'training.epochs'],
    ]);
    expect(issues[0]!.params).toEqual({ optimizer: { name: 'adam' }, 'training.epochs': 0 });
  });

  it('refuses a grid over a continuous range and an objective the job does not report', () => {
    expect(() => planExperiment(parse({ base, space: { 'optimizer.learningRate': { uniform: [0, 1] } }, objective }))).toThrow(ExperimentPlanError);
    try {
      planExperiment(parse({ base, objective: { metric: 'val_loss' } }));
      expect.unreachable();
    } catch (err) {
      expect((err as ExperimentPlanError).issues[0]!.path).toEqual(['objective', 'metric']);
    }
  });

  it('caps every ASHA trial at maxEpochs', () => {
    const { plan } = planExperiment(parse({ base, objective, scheduler: { type: 'asha', maxEpochs: 4 } }));
    expect(plan.scheduler).toMatchObject({ type: 'asha', maxEpochs: 4, gracePeriod: 1, reductionFactor: 4 });
    expect(plan.trials[0]!.spec.training.epochs).toBe(4);
  });
});

describe('the optimizer-comparison protocol', () => {
  it('tunes every optimizer over the same seeded learning rates, then reruns each best with the seeds', () => {
    const spec = parse({
      protocol: 'optimizer-comparison',
      base,
      optimizers: ['sgd', 'adam', 'rmsprop'],
      learningRates: { logUniform: [1e-3, 1], trials: 4, seed: 1 },
      seeds: 3,
      objective,
    });
    const { plan } = planExperiment(spec);
    expect(plan.trials).toHaveLength(12);
    expect(countTrials(spec)).toBe(12 + 9);
    expect(plan.laterTrials).toBe(9);
    const rates = (name: string) => plan.trials.filter((t) => t.spec.optimizer.name === name).map((t) => t.spec.optimizer.learningRate);
    expect(rates('adam')).toEqual(rates('sgd'));
    // One draw from each quarter of the log range.
    expect(rates('sgd').map((r) => Math.floor((Math.log(r) - Math.log(1e-3)) / (-Math.log(1e-3) / 4)))).toEqual([0, 1, 2, 3]);
    expect(plan.trials.every((t) => t.phase === 'tune' && t.scheduled && t.seed === 7)).toBe(true);
    expect(plan.scheduler).toMatchObject({ type: 'asha', reductionFactor: 3, maxEpochs: 9 });

    // Trial 2 ran every epoch with the first rerun seed: it stands for that seed. Trial 5 was stopped by ASHA: all seeds train.
    const ran = (epochs: number, stoppedBy: 'asha' | null = null): TrialProgress => ({ ...emptyProgress(), status: 'completed', epochs, stoppedBy });
    const { trials: reruns, reused } = planReruns(
      [
        { ...plan.trials[2]!, progress: ran(9) },
        { ...plan.trials[5]!, progress: ran(3, 'asha') },
      ],
      plan.rerunSeeds,
      12,
    );
    expect(reused).toEqual([2]);
    expect(reruns.map((t) => [t.index, t.config, t.seed, t.spec.optimizer.learningRate])).toEqual([
      [12, 2, 8, plan.trials[2]!.spec.optimizer.learningRate],
      [13, 2, 9, plan.trials[2]!.spec.optimizer.learningRate],
      [14, 5, 7, plan.trials[5]!.spec.optimizer.learningRate],
      [15, 5, 8, plan.trials[5]!.spec.optimizer.learningRate],
      [16, 5, 9, plan.trials[5]!.spec.optimizer.learningRate],
    ]);
    expect(reruns.every((t) => t.phase === 'rerun' && t.rerun && !t.scheduled && t.spec.training.seed === t.seed)).toBe(true);
    expect(plan.trials.every((t) => !t.rerun)).toBe(true);

    // Only a tuning trial that completed every epoch, unstopped, with a rerun seed stands for one.
    const standsFor = (progress: TrialProgress, seeds = plan.rerunSeeds) => planReruns([{ ...plan.trials[2]!, progress }], seeds, 12).reused.length === 1;
    expect(standsFor(ran(9))).toBe(true);
    expect(standsFor(ran(9), [8, 9])).toBe(false);
    expect(standsFor(ran(8))).toBe(false);
    expect(standsFor({ ...ran(9), status: 'failed' })).toBe(false);
    expect(standsFor({ ...ran(9), status: 'cancelled' })).toBe(false);
    expect(standsFor(ran(9, 'asha'))).toBe(false);
  });

  it('summarises the reruns with the tuning trial that stands for a seed, each seed once', () => {
    const trial = (index: number, phase: Trial['phase'], config: number, seed: number, best: number, rerun: boolean): Trial => ({
      index,
      jobId: `j${index}`,
      config,
      phase,
      rerun,
      optimizer: 'sgd',
      learningRate: index === 1 ? 0.1 : 0.01,
      params: {},
      seed,
      decisions: [],
      ...emptyProgress(),
      status: 'completed',
      epochs: 9,
      best,
      final: best,
    });
    const trials = [
      trial(0, 'tune', 0, 7, 0.9, false),
      trial(1, 'tune', 1, 7, 0.5, true),
      trial(2, 'rerun', 1, 8, 0.25, true),
      trial(3, 'rerun', 1, 9, 0.75, true),
    ];
    const [s] = summarize(trials, 'min');
    expect(s).toMatchObject({ learningRate: 0.1, seeds: 3, best: { mean: 0.5, n: 3 } });
  });
});

describe('results', () => {
  it('ranks trials by their best value and summarises with the sample standard deviation', () => {
    const trial = (index: number, best: number | null): Trial => ({
      index,
      jobId: `j${index}`,
      config: index,
      phase: 'search',
      rerun: false,
      optimizer: 'sgd',
      learningRate: 0.1,
      params: {},
      seed: 1,
      decisions: [],
      status: 'completed',
      epochs: 3,
      elapsedSeconds: 1,
      best,
      bestEpoch: 1,
      final: best,
      epochsToTarget: null,
      secondsToTarget: null,
      stoppedBy: null,
      error: null,
    });
    expect(leaderboard([trial(0, 0.5), trial(1, null), trial(2, 0.2), trial(3, 0.5)], 'min').map((e) => e.trial)).toEqual([2, 0, 3]);
    expect(leaderboard([trial(0, 0.5), trial(2, 0.2)], 'max').map((e) => e.trial)).toEqual([0, 2]);
    expect(stat([1, 2, 3, null])).toEqual({ mean: 2, std: 1, n: 3 });
    expect(stat([4])).toEqual({ mean: 4, std: null, n: 1 });
  });
});
