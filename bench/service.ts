/**
 * `npm run bench`: service latency on this machine. Starts a private Redis, the API and one
 * worker, then submits the README's XOR job several times over HTTP and measures, per run:
 * submit -> first epoch event (worker pick-up, training process start, backend load) and
 * submit -> completed event (the whole job). Prints a table and writes JSON to bench/results/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/api/app.js';
import { freePort, startRedisServer } from '../src/cli/redis-server.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/shared/logger.js';
import { startWorker } from '../workers/worker-app.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const EPOCHS = 100;

const dir = mkdtempSync(join(tmpdir(), 'descent-bench-'));
const redis = await startRedisServer({ port: await freePort(), dir: join(dir, 'redis'), appendOnly: false });
const config = loadConfig({ REDIS_URL: redis.url, DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn', TFJS_BACKEND: process.env.TFJS_BACKEND ?? 'auto' });
const app = await buildApp(config, { logger: false });
const base = await app.listen({ port: 0, host: '127.0.0.1' });
const worker = await startWorker(config, createLogger('warn', 'bench-worker'));

const spec = {
  name: 'xor-adam',
  dataset: { builtin: 'xor' },
  model: { inputShape: [2], layers: [{ type: 'dense', units: 8, activation: 'tanh' }, { type: 'dense', units: 1, activation: 'sigmoid' }] },
  loss: 'binaryCrossentropy',
  metrics: ['accuracy'],
  optimizer: { name: 'adam', learningRate: 0.05 },
  training: { epochs: EPOCHS, batchSize: 4, shuffle: true, seed: 7 },
};

async function once(): Promise<{ firstEpochMs: number; totalMs: number; trainMs: number }> {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
  const { id } = (await res.json()) as { id: string };
  const stream = await fetch(`${base}/v1/jobs/${id}/events`);
  const reader = stream.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let firstEpochMs = NaN;
  let trainMs = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (Number.isNaN(firstEpochMs) && text.includes('event: epoch')) firstEpochMs = performance.now() - t0;
  }
  for (const m of text.matchAll(/"durationMs":([\d.]+)/g)) trainMs += Number(m[1]);
  if (!text.includes('event: completed')) throw new Error(`job ${id} did not complete:\n${text.slice(-500)}`);
  return { firstEpochMs, totalMs: performance.now() - t0, trainMs };
}

const runs = [];
await once(); // warm-up: file caches, JIT
for (let i = 0; i < RUNS; i++) runs.push(await once());

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s.at(-1)! };
};
const rows = {
  'submit -> first epoch event (ms)': stat(runs.map((r) => r.firstEpochMs)),
  [`submit -> completed, XOR ${EPOCHS} epochs (ms)`]: stat(runs.map((r) => r.totalMs)),
  [`time inside epochs, sum of durationMs (ms)`]: stat(runs.map((r) => r.trainMs)),
};
console.log(`\nDescent service latency — backend ${worker.backend.backend}, ${RUNS} runs after 1 warm-up\n`);
console.log('| metric | median | min | max |\n|---|---:|---:|---:|');
for (const [name, s] of Object.entries(rows)) console.log(`| ${name} | ${s.median.toFixed(0)} | ${s.min.toFixed(0)} | ${s.max.toFixed(0)} |`);

const out = join('bench', 'results');
mkdirSync(out, { recursive: true });
const file = join(out, `service-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ backend: worker.backend.backend, versions: worker.backend.versions, runs, summary: rows }, null, 2));
console.log(`\nwrote ${file}`);

await app.close();
await worker.close();
await redis.stop();
rmSync(dir, { recursive: true, force: true });
