/**
 * Part `sse`: N clients stream one job's events from one API process. The job is submitted with
 * no worker running, so it stays queued while the N streams open; then the API's RSS is taken
 * (every follower blocked in XREAD), a worker starts in this process and trains the job, and the
 * clients time each epoch event from its Redis XADD (the event id) to receipt.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, startRedisServer } from '../src/cli/redis-server.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/shared/logger.js';
import { startWorker } from '../workers/worker-app.js';
import { forkTs, openFileLimit, rssMiB, stopChild } from './processes.js';
import { percentile, sleep, table, withTimeout } from './stats.js';

const COUNTS = (process.env.BENCH_SSE_CLIENTS ?? '1000,5000').split(',').map(Number);
const PARALLEL_CONNECTS = 100;
const DEADLINE_MS = Number(process.env.BENCH_SSE_DEADLINE_MS ?? 120_000);
/** Epochs of about half a second each on the native backend, so events are spaced and fan out one at a time. */
const JOB = {
  name: 'bench-sse',
  dataset: { builtin: 'spirals', samples: 1024 },
  model: {
    inputShape: [2],
    layers: [
      { type: 'dense', units: 16, activation: 'tanh' },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
  },
  loss: 'binaryCrossentropy',
  optimizer: { name: 'adam', learningRate: 0.01 },
  training: { epochs: 10, batchSize: 32, seed: 7 },
};

/** Each stream costs the API one socket (the client's); every stream shares the API's one event-hub connection to Redis. */
const FDS_PER_STREAM_API = 1;

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (await check()) return true;
    await sleep(250);
  }
  return false;
}

async function onePass(n: number, log: (s: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'descent-bench-sse-'));
  const redis = await startRedisServer({ port: await freePort(), dir: join(dir, 'redis'), appendOnly: false });
  const probe = new Redis(redis.url);
  const { child: api, first } = await forkTs<{ url: string }>('api-server-child.ts', [redis.url]);
  const { child: clients } = await forkTs<{ type: 'ready' }>('sse-clients-child.ts', []);
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  try {
    const res = await fetch(`${first.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(JOB) });
    const { id } = (await res.json()) as { id: string };
    const rssIdle = rssMiB(api.pid!);
    const message = <T>(type: string) =>
      new Promise<T>((ok) => {
        const on = (m: { type: string }) => {
          if (m.type === type) {
            clients.off('message', on);
            ok(m as T);
          }
        };
        clients.on('message', on);
      });
    const connectedMsg = message<{ connected: number; failed: number; seconds: number }>('connected');
    clients.send({ url: `${first.url}/v1/jobs/${id}/events`, n, parallel: PARALLEL_CONNECTS, deadlineMs: DEADLINE_MS });
    const connected = await withTimeout(connectedMsg, 90_000, `opening ${n} streams`);
    const blocked = async () => Number(/blocked_clients:(\d+)/.exec(await probe.info('clients'))?.[1] ?? 0);
    const allBlocked = await waitFor(async () => (await blocked()) >= connected.connected, 30_000);
    await sleep(1000);
    const rssOpen = rssMiB(api.pid!);
    const redisClients = Number(/connected_clients:(\d+)/.exec(await probe.info('clients'))?.[1] ?? NaN);
    log(
      `  ${n} streams: ${connected.connected} open in ${connected.seconds.toFixed(1)} s (${connected.failed} failed), API RSS ${rssIdle.toFixed(0)} -> ${rssOpen.toFixed(0)} MiB`,
    );

    const resultMsg = message<{ connected: number; ended: number; completed: number; failed: number; latencies: number[] }>('result');
    const config = loadConfig({ REDIS_URL: redis.url, DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn' });
    const trainStart = performance.now();
    worker = await startWorker(config, createLogger('warn', 'bench-sse-worker'));
    clients.send({ type: 'collect' });
    const result = await withTimeout(resultMsg, DEADLINE_MS + 30_000, 'SSE clients');
    const trainSeconds = (performance.now() - trainStart) / 1000;
    const l = result.latencies;
    return {
      clients: n,
      connected: result.connected,
      connectFailed: result.failed,
      connectSeconds: connected.seconds,
      allFollowersBlocked: allBlocked,
      redisConnectedClients: redisClients,
      apiRssMiB: { idle: rssIdle, streamsOpen: rssOpen, perStreamKiB: ((rssOpen - rssIdle) * 1024) / Math.max(1, connected.connected) },
      completedStreams: result.completed,
      epochEvents: l.length,
      expectedEpochEvents: result.connected * JOB.training.epochs,
      latencyMs: { p50: percentile(l, 50), p95: percentile(l, 95), p99: percentile(l, 99), max: percentile(l, 100) },
      trainSeconds,
    };
  } finally {
    await worker?.close().catch(() => {});
    clients.kill('SIGKILL');
    await stopChild(api);
    probe.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runSseBench(log: (s: string) => void = console.log) {
  const fdLimit = openFileLimit();
  const passes = [];
  const skipped: { clients: number; reason: string }[] = [];
  for (const n of COUNTS) {
    // The API process needs a descriptor per stream plus its own; leave headroom.
    if (n * FDS_PER_STREAM_API + 500 > fdLimit) {
      const reason = `ulimit -n is ${fdLimit}; ${n} streams need about ${n * FDS_PER_STREAM_API + 500} descriptors in the API process`;
      log(`  ${n} streams: skipped, ${reason}`);
      skipped.push({ clients: n, reason });
      continue;
    }
    passes.push(await onePass(n, log));
  }
  return { fdLimit, job: JOB, passes, skipped };
}

export function sseTable(r: Awaited<ReturnType<typeof runSseBench>>): string {
  const rows = r.passes.map((p) => [
    p.clients,
    `${p.connected} in ${p.connectSeconds.toFixed(1)} s`,
    Math.round(p.apiRssMiB.idle),
    Math.round(p.apiRssMiB.streamsOpen),
    Math.round(p.apiRssMiB.perStreamKiB),
    `${p.epochEvents}/${p.expectedEpochEvents}`,
    p.latencyMs.p50,
    p.latencyMs.p95,
    p.latencyMs.max,
  ]);
  const skipped = r.skipped.map((s) => `\nskipped ${s.clients}: ${s.reason}`).join('');
  return (
    `SSE fan-out: one API process, one job (${r.job.training.epochs} epochs); ulimit -n ${r.fdLimit}\n\n` +
    table(['streams', 'opened', 'API RSS idle MiB', 'API RSS open MiB', 'KiB/stream', 'epoch events got', 'XADD→client p50 ms', 'p95 ms', 'max ms'], rows) +
    skipped
  );
}
