import type { Redis } from 'ioredis';
import { datasetRecordSchema, type DatasetPage, type DatasetRecord } from '../spec/index.js';
import type { RedisKeys } from './keys.js';

/**
 * Records of uploaded datasets in Redis: what the API lists and what a job's `{"id"}` is checked
 * against. A record is written only after the dataset's arrays are in the artifact store, and
 * removed before they are, so every visible record names a whole dataset.
 */
export class DatasetStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async create(record: DatasetRecord): Promise<void> {
    await this.redis
      .multi()
      .set(this.keys.dataset(record.id), JSON.stringify(record))
      .zadd(this.keys.datasetIndex, Date.parse(record.createdAt), record.id)
      .exec();
  }

  async get(id: string): Promise<DatasetRecord | undefined> {
    const raw = await this.redis.get(this.keys.dataset(id));
    return raw ? datasetRecordSchema.parse(JSON.parse(raw)) : undefined;
  }

  /** Newest first; `cursor` is the offset the previous page returned as `next`. */
  async list(limit: number, cursor = 0): Promise<DatasetPage> {
    const ids = await this.redis.zrevrange(this.keys.datasetIndex, cursor, cursor + limit);
    const page = ids.slice(0, limit);
    const raws = page.length > 0 ? await this.redis.mget(page.map((id) => this.keys.dataset(id))) : [];
    const items = raws.flatMap((raw) => (raw ? [datasetRecordSchema.parse(JSON.parse(raw))] : []));
    return { items, next: ids.length > limit ? String(cursor + limit) : null };
  }

  /** Removes the record; false when there was none. */
  async remove(id: string): Promise<boolean> {
    const result = await this.redis.multi().del(this.keys.dataset(id)).zrem(this.keys.datasetIndex, id).exec();
    return Number(result?.[0]?.[1] ?? 0) > 0;
  }
}
