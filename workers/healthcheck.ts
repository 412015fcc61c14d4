/**
 * Container health check of a worker (`node dist/workers/healthcheck.js`): healthy while this
 * container's worker has a live entry in the worker registry in Redis, i.e. its heartbeat is
 * younger than WORKER_TTL_MS. A worker whose event loop is stuck, or that lost Redis, stops
 * renewing the entry and turns unhealthy. Needs WORKER_HEARTBEAT_FILE set for the worker.
 */
import { loadConfig } from '../src/config/config.js';
import { redisKeys, WORKER_TTL_MS } from '../src/queue/keys.js';
import { createRedis } from '../src/queue/redis.js';
import { readHeartbeatNote } from './heartbeat-note.js';

const DEADLINE_MS = 4_000;

async function check(): Promise<string> {
  const config = loadConfig();
  if (!config.WORKER_HEARTBEAT_FILE) throw new Error('WORKER_HEARTBEAT_FILE is not set, so this worker cannot be told apart');
  const note = await readHeartbeatNote(config.WORKER_HEARTBEAT_FILE).catch((err: Error) => {
    throw new Error(`no heartbeat note at ${config.WORKER_HEARTBEAT_FILE} (${err.message}): the worker has not reached Redis yet`);
  });
  const redis = createRedis(config.REDIS_URL, { connectTimeout: DEADLINE_MS, retryStrategy: () => null });
  try {
    const entry = await redis.get(redisKeys(config.REDIS_PREFIX).worker(note.id));
    if (!entry) throw new Error(`worker ${note.id} has no live entry in the registry (no heartbeat for ${WORKER_TTL_MS} ms)`);
    const { backend, at } = JSON.parse(entry) as { backend: string; at: number };
    return `worker ${note.id} (${backend}) beat ${Date.now() - at} ms ago`;
  } finally {
    redis.disconnect();
  }
}

const deadline = setTimeout(() => {
  console.error(`unhealthy: no answer from Redis within ${DEADLINE_MS} ms`);
  process.exit(1);
}, DEADLINE_MS);
try {
  console.log(`healthy: ${await check()}`);
  process.exitCode = 0;
} catch (err) {
  console.error(`unhealthy: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
}
