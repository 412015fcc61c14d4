import type { Redis } from 'ioredis';
import { z } from 'zod';
import { backendNameSchema } from '../spec/backends.js';
import type { RedisKeys } from './keys.js';

/** A worker whose heartbeat is older than this is taken for gone. */
export const WORKER_TTL_MS = 15_000;

/** What a live worker says about itself on every heartbeat. */
export const workerInfoSchema = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  backend: backendNameSchema,
  graphEngine: z
    .object({ available: z.boolean(), reason: z.string().optional() })
    .optional()
    .describe('Whether this worker can run the graph training engine, and why not.'),
  version: z.string().describe('Descent version the worker runs.'),
  at: z.number().describe('Time of the heartbeat (ms since the epoch).'),
});
export type WorkerInfo = z.infer<typeof workerInfoSchema>;

/**
 * The live training workers: each worker beats (a record that expires, and its id scored by
 * time in an index); readers count only beats younger than WORKER_TTL_MS, so a worker killed
 * without deregistering drops out by itself.
 */
export class WorkerRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async beat(info: WorkerInfo): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.worker(info.id), JSON.stringify(info), 'PX', WORKER_TTL_MS)
      .zadd(this.keys.workers, info.at, info.id)
      .zremrangebyscore(this.keys.workers, 0, info.at - WORKER_TTL_MS)
      .exec();
  }

  /** The worker's record while its heartbeat is live, else undefined. */
  async get(id: string): Promise<WorkerInfo | undefined> {
    const raw = await this.redis.get(this.keys.worker(id));
    return raw ? (JSON.parse(raw) as WorkerInfo) : undefined;
  }

  async deregister(id: string): Promise<void> {
    await this.redis.multi().del(this.keys.worker(id)).zrem(this.keys.workers, id).exec();
  }

  async liveCount(now = Date.now()): Promise<number> {
    return this.redis.zcount(this.keys.workers, now - WORKER_TTL_MS, '+inf');
  }

  async live(now = Date.now()): Promise<WorkerInfo[]> {
    const ids = await this.redis.zrangebyscore(this.keys.workers, now - WORKER_TTL_MS, '+inf');
    const infos = ids.length ? await this.redis.mget(ids.map((id) => this.keys.worker(id))) : [];
    return infos.flatMap((raw) => (raw ? [JSON.parse(raw) as WorkerInfo] : []));
  }
}
