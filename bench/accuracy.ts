/**
 * Part `accuracy`: the `cnn-small` preset on the built-in `mnist` digits (the first
 * BENCH_ACCURACY_TRAIN for training, the next BENCH_ACCURACY_HOLDOUT as an explicit holdout),
 * trained by Descent's engine on the native backend; per-epoch validation accuracy and time, and
 * the first epoch at or above 95%.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { JobSpecInput } from '../src/spec/index.js';
import { table, withTimeout } from './stats.js';

const env = process.env;
const TRAIN = Number(env.BENCH_ACCURACY_TRAIN ?? 8_000);
const HOLDOUT = Number(env.BENCH_ACCURACY_HOLDOUT ?? 2_000);
const EPOCHS = Number(env.BENCH_ACCURACY_EPOCHS ?? 8);
const TARGET = 0.95;

interface Epoch {
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss: number;
  val_accuracy: number;
  durationMs: number;
  elapsedMs: number;
}

export interface AccuracyResult {
  spec: JobSpecInput;
  backend: string;
  layers: string[];
  epochs: Epoch[];
  reachedTargetAt: { epoch: number; seconds: number } | null;
}

export async function runAccuracyBench(): Promise<AccuracyResult> {
  const spec: JobSpecInput = {
    name: 'mnist-cnn-small',
    dataset: { builtin: 'mnist', samples: TRAIN },
    model: { preset: 'cnn-small' },
    metrics: ['accuracy'],
    optimizer: { name: 'adam', learningRate: 0.001 },
    training: { epochs: EPOCHS, batchSize: 64, seed: 7, validationData: { builtin: 'mnist', offset: TRAIN, samples: HOLDOUT } },
  };
  const child = fork(join(import.meta.dirname, 'accuracy-child.ts'), [JSON.stringify(spec)], { execArgv: ['--import', 'tsx'] });
  const epochs: Epoch[] = [];
  const done = new Promise<{ backend: string; layers: string[] }>((ok, fail) => {
    child.on('message', (m: { type: string; report?: Omit<Epoch, 'elapsedMs'>; elapsedMs?: number; backend?: string; layers?: string[] }) => {
      if (m.type === 'epoch') {
        const e = { ...m.report!, elapsedMs: m.elapsedMs! };
        epochs.push(e);
        console.log(`  epoch ${e.epoch}: val_accuracy ${e.val_accuracy.toFixed(4)} after ${(e.elapsedMs / 1000).toFixed(1)} s`);
      } else ok({ backend: m.backend!, layers: m.layers! });
    });
    child.once('exit', (code) => fail(new Error(`accuracy child exited with ${code}`)));
  });
  const { backend, layers } = await withTimeout(done, 30 * 60_000, 'accuracy run');
  const hit = epochs.find((e) => e.val_accuracy >= TARGET);
  return { spec, backend, layers, epochs, reachedTargetAt: hit ? { epoch: hit.epoch, seconds: Math.round(hit.elapsedMs / 100) / 10 } : null };
}

export function accuracyTable(r: AccuracyResult): string {
  const f4 = (v: number) => v.toFixed(4);
  const rows = r.epochs.map((e) => [e.epoch, f4(e.loss), f4(e.accuracy), f4(e.val_loss), f4(e.val_accuracy), e.durationMs / 1000, e.elapsedMs / 1000]);
  const verdict = r.reachedTargetAt
    ? `val_accuracy >= ${TARGET} at epoch ${r.reachedTargetAt.epoch}, ${r.reachedTargetAt.seconds} s of training`
    : `val_accuracy stayed below ${TARGET} for ${r.epochs.length} epochs`;
  return `cnn-small on mnist (${TRAIN} training digits, holdout of ${HOLDOUT}), ${r.backend} backend, adam 1e-3, batch 64\n${table(
    ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'epoch s', 'total s'],
    rows,
  )}\n${verdict}`;
}
