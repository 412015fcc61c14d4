/**
 * Container health check of a worker (`node dist/workers/healthcheck.js`): healthy while this
 * container's worker has a live entry in the worker registry in Redis, i.e. its heartbeat is
 * younger than WORKER_TTL_MS. A worker whose event loop is stuck, or that lost Redis, stops
 * renewing the entry and turns unhealthy. Needs WORKER_HEARTBEAT_FILE set for the worker.
 */
import { loadConfig } from '../src/config/config.js';
import { redisKeys } from '../src/store/keys.js';
import { createRedis } from '../src/store/redis.js';
import { WORKER_TTL_MS, WorkerRegistry } from '../src/store/worker-registry.js';
import { readHeartbeatNote } from './heartbeat-note.js';

const DEADLINE_MS = 4_000;

async function check(): Promise<string> {
  const config = loadConfig();
  if (!config.WORKER_HEARTBEAT_FILE) throw new Error('WORKER_HEARTBEAT_FILE is not set, so this worker cannot be told apart');
  const note = await readHeartbeatNote(config.WORKER_HEARTBEAT_FILE).catch((err: Error) => {
    throw new Error(`no heartbeat note at ${config.WORKER_HEARTBEAT_FILE} (${err.message}): the worker has not reached Redis yet`);
  });
  const redis = createRedis(config, { connectTimeout: DEADLINE_MS, retryStrategy: () => null });
  try {
    const info = await new WorkerRegistry(redis, redisKeys(config.REDIS_PREFIX)).get(note.id);
    if (!info) throw new Error(`worker ${note.id} has no live entry in the registry (no heartbeat for ${WORKER_TTL_MS} ms)`);
    return `worker ${note.id} (${info.backend}) beat ${Date.now() - info.at} ms ago`;
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
