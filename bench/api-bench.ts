/**
 * Part `api`: POST /v1/jobs throughput and latency with autocannon for BENCH_API_SECONDS (10)
 * against one API process and a private Redis, with no worker: every accepted job stays queued.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { freePort, startRedisServer } from '../src/cli/redis-server.js';
import { forkTs, rssMiB, stopChild } from './processes.js';
import { table, withTimeout } from './stats.js';

const SECONDS = Number(process.env.BENCH_API_SECONDS ?? 10);
const CONNECTIONS = (process.env.BENCH_API_CONNECTIONS ?? '10,50').split(',').map(Number);

/** A small valid job: the README's XOR example. */
export const SMALL_SPEC = {
  name: 'bench-xor',
  dataset: { builtin: 'xor' },
  model: {
    inputShape: [2],
    layers: [
      { type: 'dense', units: 8, activation: 'tanh' },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
  },
  loss: 'binaryCrossentropy',
  optimizer: { name: 'adam', learningRate: 0.05 },
  training: { epochs: 20, batchSize: 4, seed: 7 },
};

export async function runApiBench(log: (s: string) => void = console.log) {
  const dir = mkdtempSync(join(tmpdir(), 'descent-bench-api-'));
  const redis = await startRedisServer({ port: await freePort(), dir, appendOnly: false });
  const { child, first } = await forkTs<{ url: string }>('api-server-child.ts', [redis.url]);
  try {
    const runs = [];
    for (const connections of CONNECTIONS) {
      const rssBefore = rssMiB(child.pid!);
      const result = await withTimeout(
        autocannon({
          url: `${first.url}/v1/jobs`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(SMALL_SPEC),
          connections,
          duration: SECONDS,
        }),
        (SECONDS + 30) * 1000,
        'autocannon',
      );
      const r = {
        connections,
        seconds: result.duration,
        requests: result.requests.total,
        requestsPerSecond: result.requests.average,
        latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
        status2xx: result['2xx'],
        non2xx: result.non2xx,
        errors: result.errors,
        apiRssMiB: { before: rssBefore, after: rssMiB(child.pid!) },
      };
      runs.push(r);
      log(`  ${connections} connections: ${r.requestsPerSecond.toFixed(0)} req/s, p99 ${r.latencyMs.p99} ms, non-2xx ${r.non2xx}`);
    }
    const probe = new Redis(redis.url, { lazyConnect: true });
    await probe.connect();
    const info = await probe.info('memory');
    probe.disconnect();
    const redisMiB = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN) / 2 ** 20;
    return { seconds: SECONDS, runs, redisUsedMemoryMiB: redisMiB };
  } finally {
    await stopChild(child);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function apiTable(r: Awaited<ReturnType<typeof runApiBench>>): string {
  const rows = r.runs.map((x) => [
    x.connections,
    Math.round(x.requestsPerSecond),
    x.latencyMs.p50,
    x.latencyMs.p90,
    x.latencyMs.p99,
    x.latencyMs.max,
    x.status2xx,
    x.non2xx + x.errors,
    `${Math.round(x.apiRssMiB.before)} → ${Math.round(x.apiRssMiB.after)}`,
  ]);
  return (
    `POST /v1/jobs, ${r.seconds} s per row, one API process, no worker (jobs stay queued); Redis used ${Math.round(r.redisUsedMemoryMiB)} MiB after\n\n` +
    table(['connections', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', '202s', 'errors + non-2xx', 'API RSS MiB'], rows)
  );
}
