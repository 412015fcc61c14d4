import type { Redis } from 'ioredis';
import { datasetRecordSchema, type DatasetPage, type DatasetRecord } from '../spec/index.js';
import { DEFAULT_TENANT } from '../shared/access.js';
import type { RedisKeys } from './keys.js';
import { type QuotaUse, type StorageCharge, refusedUse, storageChargeLua, storageRoomArgs, storageRoomLua } from './tenant-store.js';

/**
 * Records an uploaded dataset and charges its tenant for it, in one step and only if the charge
 * fits the tenant's storage quotas (concurrent uploads cannot together pass them).
 * KEYS: record, index, tenant's index, tenant usage, tenants set. ARGV: record JSON, score
 * (creation time), id, tenant, then (usage name, bytes, limit) triples. Returns {1} or the
 * refusal {0, quota, used, limit}.
 */
const CREATE = `${storageRoomLua('KEYS[4]', 5)}
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
${storageChargeLua('KEYS[4]', 5)}
redis.call('SADD', KEYS[5], ARGV[4])
return {1}
`;

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

  /**
   * Makes the record visible and charges its tenant `storage.charge`, unless that would pass the
   * tenant's storage quotas: then nothing is written and the refusal is returned.
   */
  async create(record: DatasetRecord, tenant: string, storage: StorageCharge): Promise<QuotaUse | undefined> {
    const reply = (await this.redis.eval(
      CREATE,
      5,
      this.keys.dataset(record.id),
      this.keys.datasetIndex,
      this.keys.tenantDatasets(tenant),
      this.keys.tenantUsage(tenant),
      this.keys.tenants,
      JSON.stringify({ ...record, tenant }),
      Date.parse(record.createdAt),
      record.id,
      tenant,
      ...storageRoomArgs(storage),
    )) as unknown[];
    return refusedUse(reply);
  }

  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.dataset(id))) === 1;
  }

  async get(id: string): Promise<DatasetRecord | undefined> {
    return (await this.getOwned(id))?.record;
  }

  /** The record and the tenant it belongs to. */
  async getOwned(id: string): Promise<{ record: DatasetRecord; tenant: string } | undefined> {
    const raw = await this.redis.get(this.keys.dataset(id));
    if (!raw) return undefined;
    const json = JSON.parse(raw) as { tenant?: string };
    return { record: datasetRecordSchema.parse(json), tenant: json.tenant ?? DEFAULT_TENANT };
  }

  /** Newest first; `cursor` is the offset the previous page returned as `next`; `tenant` undefined lists every tenant's. */
  async list(limit: number, cursor = 0, tenant?: string): Promise<DatasetPage> {
    const index = tenant === undefined ? this.keys.datasetIndex : this.keys.tenantDatasets(tenant);
    const ids = await this.redis.zrevrange(index, cursor, cursor + limit);
    const page = ids.slice(0, limit);
    const raws = page.length > 0 ? await this.redis.mget(page.map((id) => this.keys.dataset(id))) : [];
    const items = raws.flatMap((raw) => (raw ? [datasetRecordSchema.parse(JSON.parse(raw))] : []));
    return { items, next: ids.length > limit ? String(cursor + limit) : null };
  }

  /** Removes the record; what it was, or undefined when there was none. */
  async remove(id: string): Promise<{ record: DatasetRecord; tenant: string } | undefined> {
    const owned = await this.getOwned(id);
    if (!owned) return undefined;
    const result = await this.redis.multi().del(this.keys.dataset(id)).zrem(this.keys.datasetIndex, id).zrem(this.keys.tenantDatasets(owned.tenant), id).exec();
    return Number(result?.[0]?.[1] ?? 0) > 0 ? owned : undefined;
  }
}
