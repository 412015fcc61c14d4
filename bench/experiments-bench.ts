/**
 * Part `experiments`: the optimizer-comparison protocol over the seed's seven optimizers on MNIST,
 * once with ASHA stopping the tuning trials and once as the full grid (no scheduler), through the
 * API with in-process workers on a private Redis. Reports each run's wall time, the epochs its
 * trials trained, and whether both runs pick the same winner and the same tuned learning rates.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/api/app.js';
import { freePort, startRedisServer } from '../src/cli/redis-server.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/shared/logger.js';
import { CLASSIC_OPTIMIZERS, type ExperimentRecord, type ExperimentSpecInput } from '../src/spec/index.js';
import { ExperimentStore } from '../src/store/experiment-store.js';
import { JobStore } from '../src/store/job-store.js';
import { redisKeys } from '../src/store/keys.js';
import { createRedis } from '../src/store/redis.js';
import type { StreamEvent } from '../src/store/streams.js';
import { startWorker } from '../workers/worker-app.js';
import { stat, table } from './stats.js';

const RATES = Number(process.env.BENCH_EXP_RATES ?? 6);
const EPOCHS = Number(process.env.BENCH_EXP_EPOCHS ?? 9);
const SAMPLES = Number(process.env.BENCH_EXP_SAMPLES ?? 2000);
const SEEDS = Number(process.env.BENCH_EXP_SEEDS ?? 3);
const WORKERS = Number(process.env.BENCH_EXP_WORKERS ?? 2);

/** The MLP on MNIST digits, each trial's job spec. */
const mnist = (epochs: number) =>
  ({
    dataset: { builtin: 'mnist', shape: 'flat', samples: SAMPLES },
    model: {
      inputShape: [784],
      layers: [
        { type: 'dense', units: 32, activation: 'relu' },
        { type: 'dense', units: 10, activation: 'softmax' },
      ],
    },
    metrics: ['accuracy'],
    training: { epochs, batchSize: 64, seed: 1, validationData: { builtin: 'mnist', shape: 'flat', offset: SAMPLES, samples: 1000 } },
  }) satisfies ExperimentSpecInput['base'];

const comparison = (scheduler: 'asha' | 'none'): ExperimentSpecInput => ({
  protocol: 'optimizer-comparison',
  name: `mnist-${scheduler}`,
  base: mnist(EPOCHS),
  optimizers: [...CLASSIC_OPTIMIZERS],
  learningRates: { logUniform: [1e-4, 1], trials: RATES, seed: 0 },
  seeds: SEEDS,
  objective: { metric: 'val_accuracy', target: 0.85 },
  scheduler: scheduler === 'asha' ? { type: 'asha', gracePeriod: 1, reductionFactor: 3 } : { type: 'none' },
  maxConcurrentTrials: WORKERS,
});

export interface ExperimentsBenchRun {
  scheduler: 'asha' | 'none';
  seconds: number;
  trials: number;
  /** Trials ended per minute of wall time. */
  trialsPerMin: number;
  tuningEpochs: number;
  rerunEpochs: number;
  stopped: number;
  winner: string | undefined;
  tuned: Record<string, number | null>;
  summary: ExperimentRecord['summary'];
  /** Milliseconds from a trial's job `epoch` event to its `trial_epoch` in the experiment's stream (their stream ids' times). */
  epochLagMs: { median: number; max: number; n: number };
}

/** Every event of a stream, page by page. */
async function readAll(read: (after: string) => Promise<StreamEvent[]>): Promise<StreamEvent[]> {
  const all: StreamEvent[] = [];
  for (let page = await read('0'); page.length > 0; page = await read(page.at(-1)!.id)) all.push(...page);
  return all;
}

const idMs = (id: string) => Number(id.split('-')[0]);

/**
 * How long each trial epoch took to reach the experiment's stream: the k-th `epoch` event of a
 * trial's job against the k-th `trial_epoch` of that job in the experiment's stream.
 */
async function epochLag(jobs: JobStore, experiments: ExperimentStore, x: ExperimentRecord): Promise<ExperimentsBenchRun['epochLagMs']> {
  const seen = (await readAll((after) => experiments.readEvents(x.id, after))).filter((e) => e.type === 'trial_epoch');
  const lags: number[] = [];
  for (const t of x.trials) {
    const recorded = (await readAll((after) => jobs.readEvents(t.jobId, after))).filter((e) => e.type === 'epoch');
    const told = seen.filter((e) => e.data.jobId === t.jobId);
    for (const [k, e] of told.entries()) if (recorded[k]) lags.push(idMs(e.id) - idMs(recorded[k].id));
  }
  const s = stat(lags);
  return { median: s.median, max: s.max, n: s.n };
}

export async function runExperimentsBench(log: (s: string) => void = console.log) {
  const dir = mkdtempSync(join(tmpdir(), 'descent-bench-'));
  const redis = await startRedisServer({ port: await freePort(), dir: join(dir, 'redis'), appendOnly: false });
  const config = loadConfig({
    REDIS_URL: redis.url,
    DATA_DIR: join(dir, 'data'),
    LOG_LEVEL: 'warn',
    TFJS_BACKEND: process.env.TFJS_BACKEND ?? 'auto',
    MAX_TRIALS: '1000',
  });
  const app = await buildApp(config, { logger: false });
  await app.ready();
  const redisClient = createRedis(config);
  const keys = redisKeys(config.REDIS_PREFIX);
  const jobStore = new JobStore(redisClient, keys, config.EVENT_STREAM_MAXLEN);
  const experimentStore = new ExperimentStore(redisClient, keys);
  const workers = await Promise.all(Array.from({ length: WORKERS }, (_, i) => startWorker(config, createLogger('warn', `bench-worker-${i}`))));
  const finish = async (spec: ExperimentSpecInput) => {
    const res = await app.inject({ method: 'POST', url: '/v1/experiments', payload: spec });
    if (res.statusCode !== 202) throw new Error(`submit failed: ${res.statusCode} ${res.body}`);
    const id = res.json<ExperimentRecord>().id;
    // The stream ends with the experiment.
    await app.inject(`/v1/experiments/${id}/events`);
    return (await app.inject(`/v1/experiments/${id}`)).json<ExperimentRecord>();
  };
  try {
    // One epoch per worker first, so neither measured run pays for starting the training processes
    // and loading MNIST into them.
    await finish({
      name: 'warm-up',
      base: { ...mnist(1), optimizer: { name: 'sgd' } },
      space: { 'optimizer.learningRate': { values: Array.from({ length: WORKERS }, (_, i) => 0.01 * (i + 1)) } },
      objective: { metric: 'val_accuracy' },
      maxConcurrentTrials: WORKERS,
    });
    const runs: ExperimentsBenchRun[] = [];
    for (const scheduler of ['asha', 'none'] as const) {
      const t0 = performance.now();
      const x = await finish(comparison(scheduler));
      const epochs = (phase: string) => x.trials.filter((t) => t.phase === phase).reduce((s, t) => s + t.epochs, 0);
      const run: ExperimentsBenchRun = {
        scheduler,
        seconds: Math.round((performance.now() - t0) / 100) / 10,
        trials: x.trials.length,
        trialsPerMin: 0,
        tuningEpochs: epochs('tune'),
        rerunEpochs: epochs('rerun'),
        stopped: x.trials.filter((t) => t.stoppedBy).length,
        winner: x.summary[0]?.optimizer,
        tuned: Object.fromEntries(x.summary.map((s) => [s.optimizer, s.learningRate])),
        summary: x.summary,
        epochLagMs: await epochLag(jobStore, experimentStore, x),
      };
      run.trialsPerMin = Math.round((run.trials / run.seconds) * 60 * 10) / 10;
      log(
        `${scheduler}: ${run.seconds} s, ${run.tuningEpochs} tuning epochs, winner ${run.winner}; ` +
          `epoch to experiment stream ${run.epochLagMs.median} ms median, ${run.epochLagMs.max} ms max`,
      );
      runs.push(run);
    }
    const [asha, full] = runs as [ExperimentsBenchRun, ExperimentsBenchRun];
    const sameTuned = Object.keys(full.tuned).filter((o) => full.tuned[o] === asha.tuned[o]).length;
    return {
      setup: { optimizers: CLASSIC_OPTIMIZERS.length, rates: RATES, epochs: EPOCHS, samples: SAMPLES, seeds: SEEDS, workers: WORKERS },
      runs,
      epochsSaved: full.tuningEpochs - asha.tuningEpochs,
      epochRatio: Math.round((asha.tuningEpochs / full.tuningEpochs) * 1000) / 1000,
      wallRatio: Math.round((asha.seconds / full.seconds) * 1000) / 1000,
      /** ASHA's share of the grid's epochs (tuning and reruns): what its wall time would be if time went only into epochs. */
      allEpochRatio: Math.round(((asha.tuningEpochs + asha.rerunEpochs) / (full.tuningEpochs + full.rerunEpochs)) * 1000) / 1000,
      sameWinner: asha.winner === full.winner,
      sameTunedRates: `${sameTuned}/${Object.keys(full.tuned).length}`,
    };
  } finally {
    await app.close();
    redisClient.disconnect();
    for (const w of workers) await w.close();
    await redis.stop();
  }
}

const fmt = (s: { mean: number | null; std: number | null }) => (s.mean === null ? '–' : `${s.mean.toFixed(4)} ± ${(s.std ?? 0).toFixed(4)}`);

export function experimentsTable(r: Awaited<ReturnType<typeof runExperimentsBench>>): string {
  const s = r.setup;
  const head =
    `${s.optimizers} optimizers x ${s.rates} learning rates (log-uniform 1e-4..1) on ${s.samples} MNIST digits, ${s.epochs} epochs, ` +
    `then each best x ${s.seeds} seeds; ${s.workers} workers\n\n`;
  const runs = table(
    ['scheduler', 'wall s', 'trials', 'trials/min', 'tuning epochs', 'rerun epochs', 'stopped', 'winner', 'epoch to stream ms (median, max)'],
    r.runs.map((x) => [
      x.scheduler,
      String(x.seconds),
      String(x.trials),
      String(x.trialsPerMin),
      String(x.tuningEpochs),
      String(x.rerunEpochs),
      String(x.stopped),
      x.winner ?? '–',
      `${x.epochLagMs.median}, ${x.epochLagMs.max}`,
    ]),
  );
  const summary = table(
    ['optimizer', 'lr (asha)', 'lr (grid)', 'best val_accuracy (asha)', 'final (asha)', 'epochs to 0.85 (asha)', 'diverged'],
    r.runs[0]!.summary.map((o) => {
      const grid = r.runs[1]!.summary.find((g) => g.optimizer === o.optimizer);
      return [o.optimizer, String(o.learningRate), String(grid?.learningRate ?? '–'), fmt(o.best), fmt(o.final), fmt(o.epochsToTarget), String(o.diverged)];
    }),
  );
  return (
    head +
    runs +
    `\n\nASHA trained ${r.epochRatio}x the tuning epochs of the full grid (${r.epochsSaved} fewer; ${r.allEpochRatio}x its epochs with the reruns) ` +
    `in ${r.wallRatio}x its wall time; ` +
    `same winner: ${r.sameWinner}; same tuned rate: ${r.sameTunedRates} optimizers\n\n` +
    summary
  );
}
