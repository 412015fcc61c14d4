import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import { MaxRetriesPerRequestError } from 'ioredis/built/errors/index.js';

/**
 * A connection for request/response commands. It fails fast while Redis is unreachable
 * (requests get a 503 instead of hanging) and reconnects by itself.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: false,
    ...options,
  });
  // Connection errors surface as failed commands (a 503 in the API); the 'error' event
  // itself would otherwise print an unhandled-error trace on every reconnect attempt.
  redis.on('error', () => {});
  return redis;
}

/** A connection for BullMQ workers and blocking reads: commands wait for a reconnect. */
export function createBlockingRedis(url: string, options: RedisOptions = {}): Redis {
  return createRedis(url, { maxRetriesPerRequest: null, ...options });
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
const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

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
