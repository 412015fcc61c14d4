import { describe, expect, it } from 'vitest';
import {
  type ResolvedScheduler,
  type SchedulerDecision,
  type SchedulerRecords,
  ashaMilestones,
  ashaOnResult,
  medianOnResult,
  nextDecisionEpoch,
  percentile,
} from '../src/planning/index.js';
import { createRng } from '../src/shared/rng.js';

type Row = [trial: number, epoch: number, value: number, action: 'continue' | 'stop' | undefined, cutoff: number | null];

/** Feeds the rows in order and checks each decision against the row's expectation (worked out by hand from the definition). */
function play(decide: (records: SchedulerRecords, trial: number, epoch: number, value: number) => SchedulerDecision | undefined, rows: Row[]) {
  const records: SchedulerRecords = {};
  const promoted = new Map<number, number[]>();
  for (const [trial, epoch, value, action, cutoff] of rows) {
    const d = decide(records, trial, epoch, value);
    expect(d?.action, `trial ${trial} at epoch ${epoch}`).toBe(action);
    if (d) {
      if (cutoff === null) expect(d.cutoff).toBeNull();
      else expect(d.cutoff).toBeCloseTo(cutoff, 9);
      if (d.action === 'continue') promoted.set(d.epoch, [...(promoted.get(d.epoch) ?? []), trial]);
    }
  }
  return { records, promoted };
}

describe('percentile (numpy, linear interpolation)', () => {
  it('interpolates between ranks and skips missing values', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([3, 1, 2], 100 * (2 / 3))).toBeCloseTo(2 + 1 / 3, 12);
    expect(percentile([null, 5], 90)).toBe(5);
    expect(percentile([], 50)).toBeNull();
  });
});

describe('ASHA (Ray ASHAScheduler, one bracket)', () => {
  it('places rungs at gracePeriod x rf^k up to maxEpochs', () => {
    expect(ashaMilestones({ gracePeriod: 1, reductionFactor: 3, maxEpochs: 9 })).toEqual([1, 3, 9]);
    expect(ashaMilestones({ gracePeriod: 2, reductionFactor: 2, maxEpochs: 20 })).toEqual([2, 4, 8, 16]);
    expect(ashaMilestones({ gracePeriod: 5, reductionFactor: 4, maxEpochs: 5 })).toEqual([5]);
  });

  it('reductionFactor 2, loss (min): a trial goes on when it is no worse than the median of the earlier arrivals at its rung', () => {
    const asha = { gracePeriod: 1, reductionFactor: 2, maxEpochs: 4 };
    const { promoted, records } = play(
      (r, trial, epoch, value) => ashaOnResult(asha, 'min', r, { trial, epoch, value }),
      [
        [0, 1, 0.9, 'continue', null], // first at rung 1: nothing to compare with
        [1, 1, 0.5, 'continue', 0.9], // median of {0.9}
        [2, 1, 1.0, 'stop', 0.7], // median of {0.9, 0.5}
        [3, 1, 0.6, 'continue', 0.9], // median of {0.9, 0.5, 1.0}
        [4, 1, 0.8, 'stop', 0.75], // median of {0.9, 0.5, 1.0, 0.6}
        [1, 2, 0.3, 'continue', null],
        [0, 2, 0.7, 'stop', 0.3],
        [3, 2, 0.35, 'continue', 0.5], // median of {0.3, 0.7}
        [3, 3, 0.25, undefined, null], // no rung at epoch 3
        [3, 4, 0.2, 'continue', null],
        [1, 4, 0.25, 'stop', 0.2],
      ],
    );
    expect(promoted.get(1)).toEqual([0, 1, 3]);
    expect(promoted.get(2)).toEqual([1, 3]);
    expect(promoted.get(4)).toEqual([3]);
    // Stopped trials are recorded too (they raise later cutoffs), each once per rung.
    expect(records[1]!.map(([t]) => t)).toEqual([0, 1, 2, 3, 4]);
  });

  it('reductionFactor 3, accuracy (max): a trial goes on when it reaches the 66.7th percentile of the earlier arrivals', () => {
    const asha = { gracePeriod: 1, reductionFactor: 3, maxEpochs: 9 };
    const { promoted } = play(
      (r, trial, epoch, value) => ashaOnResult(asha, 'max', r, { trial, epoch, value }),
      [
        [0, 1, 0.5, 'continue', null],
        [1, 1, 0.6, 'continue', 0.5],
        [2, 1, 0.55, 'stop', 0.5 + 0.1 * (2 / 3)], // 66.7th percentile of {0.5, 0.6}
        [3, 1, 0.7, 'continue', 0.55 + 0.05 / 3], // of {0.5, 0.55, 0.6}
        [4, 1, 0.58, 'stop', 0.6], // of {0.5, 0.55, 0.6, 0.7}
        [5, 1, 0.65, 'continue', 0.58 + 0.02 * (2 / 3)], // of {0.5, 0.55, 0.58, 0.6, 0.7}
        [3, 2, 0.75, undefined, null],
        [3, 3, 0.8, 'continue', null],
        [1, 3, 0.75, 'stop', 0.8],
        [5, 3, 0.85, 'continue', 0.75 + 0.05 * (2 / 3)],
        [0, 3, 0.78, 'stop', 0.8 + 0.05 / 3],
      ],
    );
    expect(promoted.get(1)).toEqual([0, 1, 3, 5]);
    expect(promoted.get(3)).toEqual([3, 5]);
  });

  it('decides once per trial and rung (a repeated result, as after a resume, changes nothing)', () => {
    const asha = { gracePeriod: 1, reductionFactor: 2, maxEpochs: 4 };
    const records: SchedulerRecords = {};
    ashaOnResult(asha, 'min', records, { trial: 0, epoch: 1, value: 1 });
    expect(ashaOnResult(asha, 'min', records, { trial: 0, epoch: 1, value: 0 })).toBeUndefined();
    expect(records[1]).toEqual([[0, 1]]);
    // A NaN result stops the trial once there is a cutoff, and is not recorded.
    expect(ashaOnResult(asha, 'min', records, { trial: 1, epoch: 1, value: null })?.action).toBe('stop');
    expect(records[1]).toEqual([[0, 1]]);
  });
});

describe('median stopping rule', () => {
  it('stops a trial whose best so far is worse than the median of the others at that epoch, after the grace period and minTrials', () => {
    const median = { gracePeriod: 2, minTrials: 2 };
    const best = new Map<number, number>();
    play(
      (r, trial, epoch, value) => {
        best.set(trial, Math.min(value, best.get(trial) ?? Infinity));
        return medianOnResult(median, 'min', r, { trial, epoch, value, best: best.get(trial)! });
      },
      [
        [0, 1, 1.0, undefined, null], // grace period
        [1, 1, 0.8, undefined, null],
        [2, 1, 0.9, undefined, null],
        [0, 2, 0.6, undefined, null], // no others at epoch 2 yet
        [1, 2, 0.7, undefined, null], // one other, minTrials 2
        [2, 2, 0.9, 'stop', 0.65], // best 0.9, median of {0.6, 0.7}
        [3, 2, 0.5, 'continue', 0.7], // median of {0.6, 0.7, 0.9}
        [1, 3, 0.4, undefined, null],
        [0, 3, 0.65, undefined, null],
        [3, 3, 0.62, 'continue', 0.525], // its value is worse than the median of {0.4, 0.65}, its best (0.5) is not
      ],
    );
  });
});

describe('decision epochs (where a trial waits for its verdict)', () => {
  const asha: ResolvedScheduler = { type: 'asha', gracePeriod: 1, reductionFactor: 3, maxEpochs: 9 };
  const median: ResolvedScheduler = { type: 'median', gracePeriod: 2, minTrials: 1 };

  it("ASHA: the rungs before the last epoch, and each epoch after a rung where the trial's value was not recorded", () => {
    expect(nextDecisionEpoch(asha, {}, 0, 0, 9)).toBe(1);
    expect(nextDecisionEpoch(asha, { 1: [[0, 0.5]] }, 0, 1, 9)).toBe(3);
    expect(nextDecisionEpoch(asha, { 1: [[0, 0.5]], 3: [[0, 0.4]] }, 0, 3, 9)).toBeUndefined(); // 9 is its last epoch
    expect(nextDecisionEpoch(asha, { 1: [[0, 0.5]], 3: [[0, 0.4]] }, 0, 3, 12)).toBe(9);
    // A NaN at rung 1 is not recorded: ASHA decides about rung 1 again at every epoch until it is.
    expect(nextDecisionEpoch(asha, { 1: [[1, 0.5]] }, 0, 1, 9)).toBe(2);
    expect(nextDecisionEpoch(asha, { 1: [[1, 0.5]] }, 0, 2, 9)).toBe(3);
    expect(nextDecisionEpoch({ type: 'asha', gracePeriod: 2, reductionFactor: 2, maxEpochs: 20 }, {}, 0, 0, 20)).toBe(2);
  });

  it('median: every epoch from the grace period to the one before the last; none: never', () => {
    expect(nextDecisionEpoch(median, {}, 0, 0, 6)).toBe(2);
    expect(nextDecisionEpoch(median, {}, 0, 2, 6)).toBe(3);
    expect(nextDecisionEpoch(median, {}, 0, 4, 6)).toBe(5);
    expect(nextDecisionEpoch(median, {}, 0, 5, 6)).toBeUndefined();
    expect(nextDecisionEpoch({ type: 'none' }, {}, 0, 0, 6)).toBeUndefined();
  });

  // Trials report in a random interleaving, with NaN now and then; every stop the scheduler decides
  // (before a trial's last epoch) must fall on the epoch the trial waits at, so a trial waiting only
  // there stops exactly where one waiting after every epoch did.
  it.each([
    ['asha', asha, 'min'],
    ['asha', { type: 'asha', gracePeriod: 2, reductionFactor: 2, maxEpochs: 16 }, 'max'],
    ['median', median, 'min'],
    ['median', { type: 'median', gracePeriod: 1, minTrials: 3 }, 'max'],
  ] as const)('%s %j (%s): every stop falls on a decision epoch', (_name, scheduler: ResolvedScheduler, mode) => {
    let stops = 0;
    let extraWaits = 0;
    for (let seed = 0; seed < 50; seed++) {
      const rng = createRng(seed);
      const epochs = scheduler.type === 'asha' ? scheduler.maxEpochs : 8;
      const records: SchedulerRecords = {};
      const trials = Array.from({ length: 12 }, (_, trial) => ({
        trial,
        epoch: 0,
        best: null as number | null,
        done: false,
        waitAt: nextDecisionEpoch(scheduler, {}, trial, 0, epochs),
      }));
      for (let left = trials.filter((t) => !t.done); left.length > 0; left = trials.filter((t) => !t.done)) {
        const t = left[Math.floor(rng() * Math.min(left.length, 3))]!;
        t.epoch++;
        const value = rng() < 0.1 ? null : (rng() * (1 + t.trial / 4)) / t.epoch;
        if (value !== null && (t.best === null || (mode === 'min' ? value < t.best : value > t.best))) t.best = value;
        const result = { trial: t.trial, epoch: t.epoch, value };
        const d =
          scheduler.type === 'asha'
            ? ashaOnResult(scheduler, mode, records, result)
            : scheduler.type === 'median'
              ? medianOnResult(scheduler, mode, records, { ...result, best: t.best })
              : undefined;
        if (d?.action === 'stop' && t.epoch < epochs) {
          expect(t.epoch, `seed ${seed}, trial ${t.trial}`).toBe(t.waitAt);
          stops++;
          t.done = true;
          continue;
        }
        if (t.epoch === t.waitAt) {
          t.waitAt = nextDecisionEpoch(scheduler, records, t.trial, t.epoch, epochs);
          if (scheduler.type === 'asha' && t.waitAt === t.epoch + 1 && !ashaMilestones(scheduler).includes(t.waitAt)) extraWaits++;
        }
        if (t.epoch === epochs) t.done = true;
      }
    }
    expect(stops).toBeGreaterThan(20);
    if (scheduler.type === 'asha') expect(extraWaits).toBeGreaterThan(0);
  });
});
