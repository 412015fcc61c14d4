/**
 * `npm start`: Redis (the configured one, or a private redis-server under the data directory),
 * then the training workers, then the API, each in a process of its own; stops them all on
 * SIGINT/SIGTERM.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig } from '../config/config.js';
import { assertNoEviction, createRedis, pingRedis } from '../store/redis.js';
import { resolveEntry } from '../shared/entry.js';
import { createLogger } from '../shared/logger.js';
import { NO_REDIS_SERVER, type PrivateRedis, redisServerCommand, startRedisServer } from './redis-server.js';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL, 'descent');
const API = resolveEntry(import.meta.url, '../api/server');
const WORKER = resolveEntry(import.meta.url, '../../workers/worker');

let privateRedis: PrivateRedis | undefined;
const children = new Set<ChildProcess>();
let stopping = false;

async function ensureRedis(): Promise<void> {
  // Behind Sentinels, Redis is the operator's: nothing to start here.
  if (config.REDIS_SENTINELS || (await pingRedis(config.REDIS_URL))) return;
  const url = new URL(config.REDIS_URL);
  const local = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(url.hostname);
  if (!local) throw new Error(`No Redis answers at ${config.REDIS_URL}. Start one there, or set REDIS_URL to yours.`);
  if (!redisServerCommand()) throw new Error(`No Redis answers at ${config.REDIS_URL}. ${NO_REDIS_SERVER}`);
  privateRedis = await startRedisServer({ port: Number(url.port || 6379), dir: join(config.DATA_DIR, 'redis') });
  log.info({ url: privateRedis.url, dir: join(config.DATA_DIR, 'redis') }, 'started a private redis-server');
}

function spawnChild(entry: { path: string; execArgv: string[] }, readyType: string, name: string): Promise<ChildProcess> {
  const child = fork(entry.path, [], { execArgv: entry.execArgv, stdio: 'inherit' });
  children.add(child);
  return new Promise((ok, fail) => {
    const onExit = (code: number | null) => fail(new Error(`${name} exited (${code}) during start-up`));
    child.once('exit', onExit);
    child.on('message', (msg: { type?: string }) => {
      if (msg.type !== readyType) return;
      child.off('exit', onExit);
      child.once('exit', (code, signal) => {
        children.delete(child);
        if (stopping) return;
        log.error({ name, code, signal }, 'a Descent process died; stopping');
        void shutdown(1);
      });
      ok(child);
    });
  });
}

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    const exits = [...children].map((c) => new Promise<void>((ok) => (c.exitCode !== null ? ok() : c.once('exit', () => ok()))));
    for (const c of children) c.kill('SIGTERM');
    const force = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), config.SHUTDOWN_TIMEOUT_MS + 5_000);
    await Promise.all(exits);
    clearTimeout(force);
    await privateRedis?.stop();
  }
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown(0));

try {
  await ensureRedis();
  const redis = createRedis(config);
  try {
    await assertNoEviction(redis);
  } finally {
    redis.disconnect();
  }
  for (let i = 0; i < config.WORKERS; i++) await spawnChild(WORKER, 'ready', `worker ${i + 1}`);
  await spawnChild(API, 'listening', 'api');
  log.info(`Descent is ready: http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${config.PORT}`);
} catch (err) {
  log.fatal({ err: (err as Error).message }, 'Descent failed to start');
  await shutdown(1);
}
