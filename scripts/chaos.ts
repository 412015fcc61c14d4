/**
 * `npm run chaos`: runs training jobs on a small Descent deployment (one API process, two
 * workers, a private Redis with an append-only file, all on loopback) while killing training
 * processes, workers, the API and Redis at random moments; then checks that every job reached a
 * terminal state with the right epoch count, that every event stream is gapless and
 * duplicate-free with one terminal event, and that checkpoints are consistent. Bounded in time.
 *
 *   CHAOS_JOBS=16 CHAOS_SECONDS=60 CHAOS_SEED=1 npm run chaos
 *
 * CHAOS_LAYOUT=multi-host runs the same on "several machines": the API and each worker get a
 * DATA_DIR of their own and share only Redis and an S3 server (versitygw on loopback), as
 * README's "Running on several machines" describes; then no DATA_DIR may hold an artifact.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startRedisServer, type PrivateRedis } from '../src/cli/redis-server.js';
import { type S3Server, startS3Server } from '../src/cli/s3-server.js';
import { loadConfig } from '../src/config/config.js';
import { checkpointKeys, modelKeys } from '../src/storage/artifact-keys.js';
import { artifactStoreSettings, openArtifactStore } from '../src/storage/open-artifact-store.js';
import { createRng } from '../src/training/rng.js';

const JOBS = Number(process.env.CHAOS_JOBS ?? 16);
const EPOCHS = Number(process.env.CHAOS_EPOCHS ?? 60);
const CHAOS_SECONDS = Number(process.env.CHAOS_SECONDS ?? 60);
const DRAIN_SECONDS = Number(process.env.CHAOS_DRAIN_SECONDS ?? 240);
const rng = createRng(Number(process.env.CHAOS_SEED ?? 1));
const LAYOUT = process.env.CHAOS_LAYOUT ?? 'one-host';
if (!['one-host', 'multi-host'].includes(LAYOUT)) throw new Error(`CHAOS_LAYOUT is one-host or multi-host, not ${LAYOUT}`);
const root = fileURLToPath(new URL('..', import.meta.url));

const dir = mkdtempSync(join(tmpdir(), 'descent-chaos-'));
const redisPort = await freePort();
const apiPort = await freePort();
const base = `http://127.0.0.1:${apiPort}`;
const s3: S3Server | undefined = LAYOUT === 'multi-host' ? await startS3Server({ dir: join(dir, 's3') }) : undefined;
const storeEnv = s3
  ? { ARTIFACT_STORE: `s3://${s3.bucket}/chaos`, S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }
  : {};
const env = {
  ...process.env,
  ...storeEnv,
  REDIS_URL: `redis://127.0.0.1:${redisPort}`,
  PORT: String(apiPort),
  DATA_DIR: join(dir, 'data'),
  LOG_LEVEL: 'error',
  CHECKPOINT_MIN_INTERVAL_MS: '0',
  LOCK_DURATION_MS: '2000',
  STALLED_INTERVAL_MS: '1000',
  JOB_ATTEMPTS: '10',
  REDIS_CONNECT_TIMEOUT_MS: '0',
};

let redis: PrivateRedis = await startRedisServer({ port: redisPort, dir: join(dir, 'redis') });
/** Each "host" (the API, worker slot i) has a DATA_DIR of its own in the multi-host layout; a restart keeps it. */
const hostDirs = new Set<string>();
const start = (entry: string, host: string) => {
  const dataDir = LAYOUT === 'multi-host' ? join(dir, `host-${host}`) : env.DATA_DIR;
  hostDirs.add(dataDir);
  return spawn(process.execPath, ['--import', 'tsx', join(root, entry)], { env: { ...env, DATA_DIR: dataDir }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
};
let api = start('src/api/server.ts', 'api');
const workers: ChildProcess[] = [start('workers/worker.ts', 'worker-0'), start('workers/worker.ts', 'worker-1')];
const artifacts = openArtifactStore(artifactStoreSettings(loadConfig({ ...storeEnv, DATA_DIR: env.DATA_DIR })));

const faults: Record<string, number> = { 'kill training process': 0, 'kill worker': 0, 'kill API': 0, 'kill Redis': 0 };
const redisCrashes: number[] = [];
/** When a training process, a worker or Redis was killed: a resume's recovery time counts from the last one before it. */
const kills: number[] = [];

async function http(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response | undefined> {
  try {
    return await fetch(base + path, {
      method,
      headers: body ? { 'content-type': 'application/json', ...headers } : headers,
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(5_000),
    });
  } catch {
    return undefined;
  }
}

/**
 * Retries until the API answers without a 5xx (it may be restarting) and its whole body arrived
 * within the request's deadline (a loaded machine or a killed API can cut it off).
 */
async function retry(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; text: string }> {
  for (;;) {
    const res = await http(method, path, body, headers);
    if (res && res.status < 500) {
      const text = await res.text().catch(() => undefined);
      if (text !== undefined) return { status: res.status, text };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const childrenOf = (pid: number): number[] =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);

await retry('GET', '/healthz');
const jobs: { id: string; acknowledgedAt: number }[] = [];
for (let i = 0; i < JOBS; i++) {
  const spec = {
    name: `chaos-${i}`,
    dataset: { builtin: 'spirals', samples: 64 },
    model: {
      inputShape: [2],
      layers: [
        { type: 'dense', units: 16, activation: 'tanh' },
        { type: 'dense', units: 1, activation: 'sigmoid' },
      ],
    },
    loss: 'binaryCrossentropy',
    optimizer: { name: 'adam', learningRate: 0.02 },
    training: { epochs: EPOCHS, batchSize: 8, seed: i },
  };
  const res = await retry('POST', '/v1/jobs', spec, { 'idempotency-key': `chaos-${i}` });
  jobs.push({ id: (JSON.parse(res.text) as { id: string }).id, acknowledgedAt: Date.now() });
}
console.log(`${LAYOUT} layout${s3 ? ` (own DATA_DIR per process; artifacts in S3 at ${s3.endpoint})` : ''}`);
console.log(`submitted ${JOBS} jobs of ${EPOCHS} epochs; injecting faults for ${CHAOS_SECONDS} s`);

const chaosUntil = Date.now() + CHAOS_SECONDS * 1000;
while (Date.now() < chaosUntil) {
  await new Promise((r) => setTimeout(r, 1_500 + rng() * 2_500));
  const roll = rng();
  if (roll < 0.45) {
    const trainers = workers.flatMap((w) => (w.pid ? childrenOf(w.pid) : []));
    if (trainers.length === 0) continue;
    process.kill(trainers[Math.floor(rng() * trainers.length)]!, 'SIGKILL');
    kills.push(Date.now());
    faults['kill training process']!++;
  } else if (roll < 0.7) {
    const i = Math.floor(rng() * workers.length);
    workers[i]!.kill('SIGKILL');
    kills.push(Date.now());
    workers[i] = start('workers/worker.ts', `worker-${i}`);
    faults['kill worker']!++;
  } else if (roll < 0.88) {
    api.kill('SIGKILL');
    api = start('src/api/server.ts', 'api');
    faults['kill API']!++;
  } else {
    await redis.crash();
    redisCrashes.push(Date.now());
    kills.push(Date.now());
    redis = await startRedisServer({ port: redisPort, dir: join(dir, 'redis') });
    faults['kill Redis']!++;
  }
}

console.log('faults done; waiting for every job to finish');
const drainUntil = Date.now() + DRAIN_SECONDS * 1000;
type Record_ = { status: string; epoch: number; epochs: number; attempts: number; checkpointEpoch: number | null };
const records = new Map<string, Record_ | 'lost'>();
for (const job of jobs) {
  for (;;) {
    const res = await retry('GET', `/v1/jobs/${job.id}`);
    if (res.status === 404) {
      records.set(job.id, 'lost');
      break;
    }
    const r = JSON.parse(res.text) as Record_;
    if (['completed', 'failed', 'cancelled'].includes(r.status) || Date.now() > drainUntil) {
      records.set(job.id, r);
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const problems: string[] = [];
let completed = 0;
let resumes = 0;
const recoveries: number[] = [];
for (const job of jobs) {
  const r = records.get(job.id)!;
  if (r === 'lost') {
    // appendfsync everysec: only a job acknowledged within a second of a Redis crash may be lost.
    const excused = redisCrashes.some((t) => t >= job.acknowledgedAt && t - job.acknowledgedAt < 1_000);
    if (!excused) problems.push(`${job.id}: lost`);
    continue;
  }
  if (r.status !== 'completed') problems.push(`${job.id}: ${r.status}`);
  else completed++;
  if (r.epoch !== EPOCHS) problems.push(`${job.id}: epoch ${r.epoch} of ${EPOCHS}`);
  if (r.checkpointEpoch !== null && r.checkpointEpoch > r.epoch) problems.push(`${job.id}: checkpoint ${r.checkpointEpoch} ahead of epoch ${r.epoch}`);
  // The worker removes checkpoints right after recording completion: a moment later they are gone.
  if ((await artifacts.list(checkpointKeys(job.id).dir)).length > 0) problems.push(`${job.id}: checkpoints left after completion`);
  if (r.status === 'completed' && !(await artifacts.stat(modelKeys(job.id).weights))) problems.push(`${job.id}: no model in the artifact store`);
  const { text } = await retry('GET', `/v1/jobs/${job.id}/events`);
  const events = text.split('\n\n').filter((b) => b.includes('event: '));
  const epochs = events.filter((b) => b.includes('event: epoch')).map((b) => Number(/"epoch":(\d+)/.exec(b)![1]));
  if (epochs.join(',') !== Array.from({ length: EPOCHS }, (_, i) => i + 1).join(',')) problems.push(`${job.id}: epochs in stream ${epochs.join(',')}`);
  const terminal = events.filter((b) => /event: (completed|failed|cancelled)\n/.test(b));
  if (terminal.length !== 1) problems.push(`${job.id}: ${terminal.length} terminal events`);
  for (const b of events.filter((e) => e.includes('"resumed":true'))) {
    resumes++;
    const at = Date.parse(/"at":"([^"]+)"/.exec(b)![1]!);
    const fault = Math.max(...kills.filter((t) => t <= at));
    if (Number.isFinite(fault)) recoveries.push(at - fault);
  }
}
recoveries.sort((a, b) => a - b);
if (LAYOUT === 'multi-host') {
  for (const d of hostDirs) if (existsSync(join(d, 'artifacts'))) problems.push(`${d}: an artifact on a host's own disk`);
}

console.log('\n| fault | injected |\n|---|---:|');
for (const [k, v] of Object.entries(faults)) console.log(`| ${k} | ${v} |`);
console.log(`\n| result | count |\n|---|---:|`);
console.log(
  `| jobs | ${JOBS} |\n| completed with ${EPOCHS} epochs | ${completed} |\n| resumes from a checkpoint | ${resumes} |\n| problems | ${problems.length} |`,
);
if (recoveries.length > 0) {
  const median = recoveries[Math.floor(recoveries.length / 2)]!;
  console.log(`\nkill -> resumed elsewhere (ms): median ${median}, max ${recoveries.at(-1)}, over ${recoveries.length} resumes`);
}
for (const p of problems) console.log(`problem: ${p}`);

api.kill('SIGKILL');
for (const w of workers) w.kill('SIGKILL');
await redis.stop();
await s3?.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(problems.length === 0 ? 0 : 1);
