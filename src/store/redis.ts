import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import { MaxRetriesPerRequestError } from 'ioredis/built/errors/index.js';
import type { Config } from '../config/config.js';

/** What a connection needs: one Redis at REDIS_URL, or the primary that Sentinels name. */
export type RedisSettings = Pick<Config, 'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_MASTER_NAME'>;

/**
 * With REDIS_SENTINELS, ioredis asks the Sentinels for the primary of REDIS_MASTER_NAME on every
 * (re)connect, until they name a new one after a failover. REDIS_URL then only contributes
 * credentials and the database number. ioredis' `failoverDetector` stays off: when it fires while
 * a connection is being re-established, ioredis 5 ends that connection for good ("Connection is
 * closed" from then on), which the failover test caught; a dead or demoted primary closes its
 * connections anyway, and a READONLY reply reconnects (below).
 */
function target(settings: RedisSettings): { url?: string; options: RedisOptions } {
  if (!settings.REDIS_SENTINELS) return { url: settings.REDIS_URL, options: {} };
  const url = new URL(settings.REDIS_URL);
  const sentinels = settings.REDIS_SENTINELS.split(',').map((hostPort) => {
    const cut = hostPort.lastIndexOf(':');
    return { host: hostPort.slice(0, cut), port: Number(hostPort.slice(cut + 1)) };
  });
  return {
    options: {
      sentinels,
      name: settings.REDIS_MASTER_NAME,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
      sentinelRetryStrategy: (times) => Math.min(times * 200, 2_000),
    },
  };
}

function connect(settings: RedisSettings, options: RedisOptions): Redis {
  const t = target(settings);
  const all = { ...t.options, ...options };
  return t.url ? new Redis(t.url, all) : new Redis(all);
}

/**
 * A connection for request/response commands. It fails fast while Redis is unreachable
 * (requests get a 503 instead of hanging) and reconnects by itself.
 */
export function createRedis(settings: RedisSettings, options: RedisOptions = {}): Redis {
  const redis = connect(settings, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    // A demoted primary answers writes with READONLY: reconnect (to the new primary) and resend.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    lazyConnect: false,
    ...options,
  });
  // Connection errors surface as failed commands (a 503 in the API); the 'error' event
  // itself would otherwise print an unhandled-error trace on every reconnect attempt.
  redis.on('error', () => {});
  return redis;
}

/** A connection for BullMQ workers and blocking reads: commands wait for a reconnect. */
export function createBlockingRedis(settings: RedisSettings, options: RedisOptions = {}): Redis {
  return createRedis(settings, { maxRetriesPerRequest: null, ...options });
}

/**
 * Redis replicates asynchronously: a write the primary acknowledged can be lost when a replica
 * that has not received it yet is promoted. WAIT blocks until `replicas` replicas have every
 * write this connection made (or the timeout passes); called on each connection that wrote.
 * Returns how many replicas acknowledged on all of them (`replicas` when there is nothing to wait for).
 */
export async function waitForReplicas(connections: Redis[], replicas: number, timeoutMs: number): Promise<number> {
  if (replicas === 0) return 0;
  const acked = await Promise.all(connections.map((c) => c.wait(replicas, timeoutMs)));
  return Math.min(...acked);
}

/** PING once with a deadline; true when Redis answered. */
export async function pingRedis(url: string, timeoutMs = 1_000): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export class RedisPolicyError extends Error {}

/** BullMQ loses jobs when Redis evicts keys, so Descent refuses any policy but noeviction. */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const info = await redis.info('memory');
  const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  if (policy && policy !== 'noeviction') {
    throw new RedisPolicyError(
      `Redis maxmemory-policy is "${policy}"; Descent (BullMQ) needs "noeviction" or queued jobs can vanish. ` +
        'Fix: redis-cli CONFIG SET maxmemory-policy noeviction (and set it in redis.conf).',
    );
  }
}

/** Node's socket error codes for a server that cannot be reached. */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * Whether a failed command means Redis cannot be reached (the API answers 503, not 500), told by
 * the error's class or socket code, never by its message: ioredis' MaxRetriesPerRequestError, a
 * socket error, or the plain `Error` ioredis rejects commands with on a connection that is not
 * ready (not writeable, closed), recognised by asking `connections` for their state. A
 * ReplyError is Redis answering, so never an outage.
 */
export function isRedisOutage(err: unknown, connections: readonly Pick<Redis, 'status'>[]): boolean {
  if (err instanceof MaxRetriesPerRequestError) return true;
  if (!(err instanceof Error) || err instanceof ReplyError) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && UNREACHABLE_CODES.has(code)) return true;
  return Object.getPrototypeOf(err) === Error.prototype && connections.some((c) => c.status !== 'ready');
}
