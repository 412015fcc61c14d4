/**
 * Part `service` (also `tsx bench/service.ts` alone): what the service adds around training.
 * Starts a private Redis, the API and one worker in this process, then per job kind and run:
 * - through the API: submit -> 202, -> `running` status event, -> first epoch event (worker
 *   pick-up, spare training process, backend already loaded), -> completed event;
 * - bare: the same resolved spec (read back from the job record) through `train()` in this
 *   process, which the worker already switched to the same backend.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp } from '../src/api/app.js';
import { freePort, startRedisServer } from '../src/cli/redis-server.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/shared/logger.js';
import type { ResolvedJobSpec } from '../src/spec/index.js';
import { train } from '../src/training/train.js';
import { startWorker } from '../workers/worker-app.js';
import { inlineMnist, loadMnist } from './mnist-data.js';
import { MODELS, type TrainingCase, type TrainingResult } from './models.js';
import { median, stat, table, withTimeout } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const XOR_EPOCHS = Number(process.env.BENCH_XOR_EPOCHS ?? 300);

const JOBS = {
  [`XOR, ${XOR_EPOCHS} epochs, batch 4`]: () => ({
    name: 'xor-adam',
    dataset: { builtin: 'xor' },
    model: {
      inputShape: [2],
      layers: [
        { type: 'dense', units: 8, activation: 'tanh' },
        { type: 'dense', units: 1, activation: 'sigmoid' },
      ],
    },
    loss: 'binaryCrossentropy',
    metrics: ['accuracy'],
    optimizer: { name: 'adam', learningRate: 0.05 },
    training: { epochs: XOR_EPOCHS, batchSize: 4, shuffle: true, seed: 7 },
  }),
  'MNIST MLP, 1000 digits inline, 3 epochs, batch 32': () => ({
    name: 'mnist-mlp',
    dataset: { inline: inlineMnist(loadMnist(), 1000, false) },
    model: { inputShape: MODELS.mlp.inputShape, layers: MODELS.mlp.layers },
    loss: 'categoricalCrossentropy',
    optimizer: { name: 'adam', learningRate: 0.001 },
    training: { epochs: 3, batchSize: 32, shuffle: true, seed: 7 },
  }),
};

/** Median epoch durationMs of the first and of the last ten epochs: is the start slowed? */
interface EpochSpread {
  firstTenMs: number;
  lastTenMs: number;
}
interface ServiceRun extends EpochSpread {
  postMs: number;
  runningMs: number;
  firstEpochMs: number;
  totalMs: number;
  trainMs: number;
}
interface BareRun extends EpochSpread {
  firstEpochMs: number;
  totalMs: number;
  trainMs: number;
}

export async function runServiceBench(log: (s: string) => void = console.log) {
  const { base, worker, close } = await startService();
  try {
    const jobs: Record<string, { service: ServiceRun[]; bare: BareRun[]; bodyBytes: number }> = {};
    for (const [name, make] of Object.entries(JOBS)) {
      const body = JSON.stringify(make());
      const service: ServiceRun[] = [];
      const bare: BareRun[] = [];
      let spec: ResolvedJobSpec | undefined;
      // One warm-up each (file caches, JIT, the spare training process), then alternate the
      // two so a load spike from elsewhere hits both alike.
      for (let i = 0; i <= RUNS; i++) {
        const s = await withTimeout(viaApi(base, body), 120_000, `${name} through the API`);
        spec ??= s.spec;
        const b = await bareTrain(spec);
        if (i > 0) {
          service.push(s.run);
          bare.push(b);
        }
      }
      jobs[name] = { service, bare, bodyBytes: body.length };
      log(`  ${name}: API ${stat(service.map((r) => r.totalMs)).median.toFixed(0)} ms, bare train() ${stat(bare.map((r) => r.totalMs)).median.toFixed(0)} ms`);
    }
    return { backend: worker.backend.backend, versions: worker.backend.versions, runs: RUNS, jobs };
  } finally {
    await close();
  }
}

/** A private Redis, the API and one worker in this process; `close` stops them. */
async function startService() {
  const dir = mkdtempSync(join(tmpdir(), 'descent-bench-'));
  const redis = await startRedisServer({ port: await freePort(), dir: join(dir, 'redis'), appendOnly: false });
  const config = loadConfig({ REDIS_URL: redis.url, DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn', TFJS_BACKEND: process.env.TFJS_BACKEND ?? 'auto' });
  const app = await buildApp(config, { logger: false });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const worker = await startWorker(config, createLogger('warn', 'bench-worker'));
  const close = async () => {
    await app.close();
    await worker.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { base, worker, close };
}

/**
 * The training part's `descent-service` rows: each case (MNIST from the built-in dataset, Adam,
 * the default engine) as a job through the API; samples/s from the median epoch durationMs
 * after the warm-up epochs, as the other frameworks' epoch times.
 */
export async function runServiceJobs(cases: TrainingCase[]): Promise<{ results: (TrainingResult & { engine: string })[]; versions: Record<string, string> }> {
  const service = await startService();
  try {
    const results: (TrainingResult & { engine: string })[] = [];
    for (const c of cases) {
      const m = MODELS[c.model];
      const body = JSON.stringify({
        name: `bench-${c.model}-b${c.batchSize}`,
        dataset: { builtin: 'mnist', samples: c.samples, shape: c.model === 'cnn' ? 'image' : 'flat' },
        model: { inputShape: m.inputShape, layers: m.layers },
        loss: 'categoricalCrossentropy',
        optimizer: { name: 'adam', learningRate: 1e-3 },
        training: { epochs: c.warmupEpochs + c.epochs, batchSize: c.batchSize, shuffle: true, seed: 7 },
      });
      const { epochMs, engine, finalLoss } = await viaApi(service.base, body);
      const measured = epochMs.slice(c.warmupEpochs);
      results.push({ ...c, framework: 'descent-service', engine, epochMs, samplesPerSecond: c.samples / (median(measured) / 1000), finalLoss });
    }
    return { results, versions: service.worker.backend.versions };
  } finally {
    await service.close();
  }
}

async function viaApi(
  base: string,
  body: string,
): Promise<{ run: ServiceRun; spec: ResolvedJobSpec; epochMs: number[]; engine: string; finalLoss: number | null }> {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const postMs = performance.now() - t0;
  const { id } = (await res.json()) as { id: string };
  const stream = await fetch(`${base}/v1/jobs/${id}/events`);
  const reader = stream.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let runningMs = NaN;
  let firstEpochMs = NaN;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (Number.isNaN(runningMs) && text.includes('"status":"running"')) runningMs = performance.now() - t0;
    if (Number.isNaN(firstEpochMs) && text.includes('event: epoch')) firstEpochMs = performance.now() - t0;
  }
  const totalMs = performance.now() - t0;
  const epochs = [...text.matchAll(/"durationMs":([\d.]+)/g)].map((m) => Number(m[1]));
  if (!text.includes('event: completed')) throw new Error(`job ${id} did not complete:\n${text.slice(-500)}`);
  const record = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as {
    spec: ResolvedJobSpec;
    engine: { name: string } | null;
    history: { loss: number | null }[];
  };
  return {
    run: { postMs, runningMs, firstEpochMs, totalMs, trainMs: sum(epochs), ...spread(epochs) },
    spec: record.spec,
    epochMs: epochs,
    engine: record.engine?.name ?? 'unknown',
    finalLoss: record.history.at(-1)?.loss ?? null,
  };
}

async function bareTrain(spec: ResolvedJobSpec): Promise<BareRun> {
  const t0 = performance.now();
  let firstEpochMs = NaN;
  const epochs: number[] = [];
  const { model } = await train(spec, {
    onEpochEnd: (r) => {
      if (Number.isNaN(firstEpochMs)) firstEpochMs = performance.now() - t0;
      epochs.push(r.durationMs);
    },
  });
  model.dispose();
  return { firstEpochMs, totalMs: performance.now() - t0, trainMs: sum(epochs), ...spread(epochs) };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const spread = (epochs: number[]): EpochSpread => ({ firstTenMs: median(epochs.slice(0, 10)), lastTenMs: median(epochs.slice(-10)) });

export function serviceTable(r: Awaited<ReturnType<typeof runServiceBench>>): string {
  const rows: (string | number)[][] = [];
  const add = (job: string, metric: string, xs: number[]) => {
    const s = stat(xs);
    rows.push([job, metric, s.median, s.min, s.max]);
  };
  for (const [job, { service, bare }] of Object.entries(r.jobs)) {
    add(
      job,
      'API: POST /v1/jobs -> 202',
      service.map((x) => x.postMs),
    );
    add(
      job,
      'API: submit -> `running` event',
      service.map((x) => x.runningMs),
    );
    add(
      job,
      'API: submit -> first epoch event',
      service.map((x) => x.firstEpochMs),
    );
    add(
      job,
      'API: submit -> completed event (wall)',
      service.map((x) => x.totalMs),
    );
    add(
      job,
      'API: sum of epoch durationMs',
      service.map((x) => x.trainMs),
    );
    add(
      job,
      'API: epoch durationMs, median of first 10',
      service.map((x) => x.firstTenMs),
    );
    add(
      job,
      'API: epoch durationMs, median of last 10',
      service.map((x) => x.lastTenMs),
    );
    add(
      job,
      'bare train(): first epoch end',
      bare.map((x) => x.firstEpochMs),
    );
    add(
      job,
      'bare train(): wall',
      bare.map((x) => x.totalMs),
    );
    add(
      job,
      'bare train(): sum of epoch durationMs',
      bare.map((x) => x.trainMs),
    );
    add(
      job,
      'bare train(): epoch durationMs, median of first 10',
      bare.map((x) => x.firstTenMs),
    );
    add(
      job,
      'bare train(): epoch durationMs, median of last 10',
      bare.map((x) => x.lastTenMs),
    );
    add(
      job,
      'service overhead (API wall − bare wall)',
      service.map((x, i) => x.totalMs - bare[i]!.totalMs),
    );
  }
  return `backend ${r.backend}, ${r.runs} runs after 1 warm-up (ms)\n\n${table(['job', 'metric', 'median', 'min', 'max'], rows)}`;
}

// Run alone: `tsx bench/service.ts` prints the table and writes bench/results/service-<time>.json.
if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const result = await runServiceBench();
  console.log(`\n${serviceTable(result)}`);
  const out = join(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `service-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`\nwrote ${file}`);
}
