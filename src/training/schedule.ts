import { type EarlyStopping, type LrSchedule, type Warmup, metricMode } from '../spec/index.js';

/**
 * The learning rate of each epoch: an optional linear warm-up, then the schedule (PyTorch's
 * lr_scheduler rules, stepped per epoch). ReduceLROnPlateau needs each epoch's metrics.
 */
export class LrScheduler {
  private plateau?: { lr: number; best: number; bad: number; cooldown: number };

  constructor(
    private readonly lr0: number,
    private readonly schedule: LrSchedule,
    private readonly warmup: Warmup | undefined,
    private readonly epochs: number,
  ) {
    if (schedule.type === 'reduceOnPlateau') {
      this.plateau = { lr: lr0, best: schedule.mode === 'min' ? Infinity : -Infinity, bad: 0, cooldown: 0 };
    }
  }

  /** The rate for epoch `e`, counted from 0. */
  rate(e: number): number {
    const w = this.warmup;
    if (w && e < w.epochs) return this.lr0 * (w.startFactor + ((1 - w.startFactor) * e) / w.epochs);
    const k = e - (w?.epochs ?? 0);
    const s = this.schedule;
    switch (s.type) {
      case 'constant':
        return this.lr0;
      case 'step':
        return this.lr0 * s.gamma ** Math.floor(k / s.stepSize);
      case 'exponential':
        return this.lr0 * s.gamma ** k;
      case 'cosine': {
        const tMax = s.tMax ?? Math.max(1, this.epochs - (w?.epochs ?? 0));
        return s.etaMin + ((this.lr0 - s.etaMin) * (1 + Math.cos((Math.PI * Math.min(k, tMax)) / tMax))) / 2;
      }
      case 'cosineRestarts': {
        let tI = s.t0;
        let tCur = k;
        while (tCur >= tI) {
          tCur -= tI;
          tI *= s.tMult;
        }
        return s.etaMin + ((this.lr0 - s.etaMin) * (1 + Math.cos((Math.PI * tCur) / tI))) / 2;
      }
      case 'reduceOnPlateau':
        return this.plateau!.lr;
    }
  }

  /** Feeds one finished epoch's metrics (0-based epoch `e`) to ReduceLROnPlateau. */
  observe(e: number, metrics: Record<string, number | null>): void {
    const s = this.schedule;
    const p = this.plateau;
    if (s.type !== 'reduceOnPlateau' || !p || (this.warmup && e < this.warmup.epochs)) return;
    const current = metrics[s.monitor];
    if (current === null || current === undefined) return;
    const better = s.mode === 'min' ? current < p.best * (1 - s.threshold) : current > p.best * (1 + s.threshold);
    if (better) {
      p.best = current;
      p.bad = 0;
    } else {
      p.bad += 1;
    }
    if (p.cooldown > 0) {
      p.cooldown -= 1;
      p.bad = 0;
    }
    if (p.bad > s.patience) {
      const next = Math.max(p.lr * s.factor, s.minLr);
      if (p.lr - next > 1e-8) p.lr = next;
      p.cooldown = s.cooldown;
      p.bad = 0;
    }
  }
}

/** Keras' EarlyStopping: stop after `patience` epochs without an improvement of minDelta. */
export class EarlyStopper {
  private best: number;
  private wait = 0;
  bestEpoch = 0;
  readonly mode: 'min' | 'max';

  constructor(private readonly config: EarlyStopping) {
    this.mode = config.mode ?? metricMode(config.monitor);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  /** Returns 'improved', 'wait' or 'stop' for the epoch's metrics. */
  update(epoch: number, metrics: Record<string, number | null>): 'improved' | 'wait' | 'stop' {
    const current = metrics[this.config.monitor];
    if (current === null || current === undefined) return 'wait';
    const improved = this.mode === 'min' ? current + this.config.minDelta < this.best : current - this.config.minDelta > this.best;
    if (improved) {
      this.best = current;
      this.bestEpoch = epoch;
      this.wait = 0;
      return 'improved';
    }
    this.wait += 1;
    return this.wait >= this.config.patience ? 'stop' : 'wait';
  }
}
