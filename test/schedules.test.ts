import { beforeAll, describe, expect, it } from 'vitest';
import { LrScheduler, EarlyStopper } from '../src/training/schedule.js';
import { train } from '../src/training/train.js';
import { earlyStoppingSchema, lrScheduleSchema, metricSchema, objectiveMode } from '../src/spec/index.js';
import { initTestBackend, resolveSpec, xorSpec } from './helpers.js';

const rates = (schedule: unknown, epochs: number, warmup?: { epochs: number; startFactor: number }, lr0 = 1) => {
  const s = new LrScheduler(lr0, lrScheduleSchema.parse(schedule), warmup, epochs);
  return Array.from({ length: epochs }, (_, e) => s.rate(e));
};

describe('learning-rate schedules (PyTorch lr_scheduler, stepped per epoch)', () => {
  it('step: StepLR(step_size=2, gamma=0.5)', () => {
    expect(rates({ type: 'step', stepSize: 2, gamma: 0.5 }, 5)).toEqual([1, 1, 0.5, 0.5, 0.25]);
  });

  it('exponential: ExponentialLR(gamma=0.9)', () => {
    rates({ type: 'exponential', gamma: 0.9 }, 4).forEach((r, e) => expect(r).toBeCloseTo(0.9 ** e, 12));
  });

  it('cosine: CosineAnnealingLR(T_max=4, eta_min=0.1) reaches eta_min at T_max and stays', () => {
    const r = rates({ type: 'cosine', tMax: 4, etaMin: 0.1 }, 6);
    expect(r[0]).toBeCloseTo(1, 12);
    expect(r[2]).toBeCloseTo(0.55, 12);
    expect(r[4]).toBeCloseTo(0.1, 12);
    expect(r[5]).toBeCloseTo(0.1, 12);
  });

  it('cosineRestarts: CosineAnnealingWarmRestarts(T_0=2, T_mult=2) restarts at epochs 2 and 6', () => {
    const r = rates({ type: 'cosineRestarts', t0: 2, tMult: 2, etaMin: 0 }, 7);
    expect(r[0]).toBe(1);
    expect(r[1]).toBeCloseTo(0.5, 12);
    expect(r[2]).toBe(1);
    expect(r[4]).toBeCloseTo(0.5, 12);
    expect(r[6]).toBe(1);
  });

  it('warm-up: LinearLR(start_factor=0.25, total_iters=3), then the schedule from its epoch 0', () => {
    const r = rates({ type: 'step', stepSize: 1, gamma: 0.5 }, 6, { epochs: 3, startFactor: 0.25 });
    expect(r.slice(0, 3)).toEqual([0.25, 0.5, 0.75]);
    expect(r.slice(3)).toEqual([1, 0.5, 0.25]);
  });

  it('reduceOnPlateau: cuts by factor after patience epochs without improvement, honours minLr', () => {
    const s = new LrScheduler(1, lrScheduleSchema.parse({ type: 'reduceOnPlateau', patience: 1, factor: 0.5, minLr: 0.3 }), undefined, 10);
    const losses = [1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9];
    const seen = losses.map((loss, e) => {
      const r = s.rate(e);
      s.observe(e, { loss });
      return r;
    });
    expect(seen).toEqual([1, 1, 1, 1, 0.5, 0.5, 0.3]);
  });
});

describe('early stopping (Keras EarlyStopping)', () => {
  it('stops after patience epochs without an improvement larger than minDelta', () => {
    const stopper = new EarlyStopper(earlyStoppingSchema.parse({ patience: 2, minDelta: 0.05 }));
    const verdicts = [1, 0.9, 0.88, 0.87, 0.5].map((loss, i) => stopper.update(i + 1, { loss }));
    expect(verdicts).toEqual(['improved', 'improved', 'wait', 'stop', 'improved']);
    expect(stopper.bestEpoch).toBe(5);
  });

  it('treats accuracy-like metrics as higher-is-better', () => {
    const stopper = new EarlyStopper(earlyStoppingSchema.parse({ monitor: 'val_accuracy', patience: 1 }));
    expect(stopper.mode).toBe('max');
    expect([0.5, 0.7, 0.6].map((a, i) => stopper.update(i + 1, { val_accuracy: a }))).toEqual(['improved', 'improved', 'stop']);
  });

  it('takes the direction an experiment objective takes, for every metric a job reports', () => {
    const reported = ['loss', ...metricSchema.options].flatMap((m) => [m, `val_${m}`]);
    for (const metric of reported) {
      const stopper = new EarlyStopper(earlyStoppingSchema.parse({ monitor: metric }));
      expect(stopper.mode, metric).toBe(objectiveMode({ metric }));
      expect(stopper.mode, metric).toBe(/Accuracy|accuracy/.test(metric) ? 'max' : 'min');
    }
  });
});

describe('schedules and callbacks in training', () => {
  const resolve = (input: unknown) => resolveSpec(input, 3);
  beforeAll(async () => {
    await initTestBackend();
  });

  it('reports the rate actually used in every epoch', async () => {
    const spec = resolve(
      xorSpec({ training: { epochs: 6, batchSize: 4, lrSchedule: { type: 'step', stepSize: 2, gamma: 0.5 }, warmup: { epochs: 2, startFactor: 0.5 } } }),
    );
    const { model, history } = await train(spec);
    model.dispose();
    const lr0 = 0.05;
    expect(history.map((h) => h.learningRate)).toEqual([lr0 * 0.5, lr0 * 0.75, lr0, lr0, lr0 * 0.5, lr0 * 0.5]);
  });

  it('stops early and can restore the best weights', async () => {
    // A rate this large makes the loss bounce, so the best epoch is not the last one.
    const spec = resolve(
      xorSpec({
        optimizer: { name: 'sgd', learningRate: 40 },
        training: { epochs: 200, batchSize: 4, earlyStopping: { patience: 3, restoreBestWeights: true }, terminateOnNaN: false },
      }),
    );
    const result = await train(spec);
    result.model.dispose();
    expect(result.stoppedEarly).toBeDefined();
    expect(result.history).toHaveLength(result.stoppedEarly!.epoch);
    expect(result.stoppedEarly!.epoch - result.stoppedEarly!.bestEpoch).toBe(3);
    expect(result.stoppedEarly!.restoredBestWeights).toBe(true);
  });

  it('fails as diverged within the batch whose loss is not finite', async () => {
    const spec = resolve(
      xorSpec({
        dataset: { inline: { x: [[1e30], [2e30]], y: [[1], [2]] } },
        model: { inputShape: [1], layers: [{ type: 'dense', units: 1 }] },
        loss: 'meanSquaredError',
        metrics: [],
        optimizer: { name: 'sgd', learningRate: 1 },
        training: { epochs: 50, batchSize: 1 },
      }),
    );
    const epochs: number[] = [];
    await expect(train(spec, { onEpochEnd: (r) => void epochs.push(r.epoch) })).rejects.toThrow(/loss became (NaN|Infinity) in epoch 1, batch 1/);
    expect(epochs).toEqual([]);
  });
});
