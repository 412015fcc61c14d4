import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import { isTerminal, type JobStatus } from '../spec/index.js';
import type { RedisKeys } from './keys.js';

export const QUOTA_NAMES = ['activeJobs', 'datasetBytes', 'artifactBytes', 'experiments'] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];

/** The quotas that count stored bytes: a tenant's use of each is summed over what it holds. */
export const USAGE_NAMES = ['datasetBytes', 'artifactBytes'] as const satisfies readonly QuotaName[];
export type UsageName = (typeof USAGE_NAMES)[number];
export type Usage = Record<UsageName, number>;

/** Usage from the values of an HMGET of USAGE_NAMES (a missing field is 0). */
export function usageFrom(values: (string | null)[]): Usage {
  return Object.fromEntries(USAGE_NAMES.map((name, i) => [name, Number(values[i] ?? 0)])) as Usage;
}

export const quotasSchema = z
  .object({
    activeJobs: z.number().int().min(0).describe('Queued plus running jobs, experiment trials included.'),
    datasetBytes: z.number().int().min(0).describe('Bytes of uploaded and inline datasets, after decompression.'),
    artifactBytes: z.number().int().min(0).describe('Bytes of stored artifacts: dataset arrays, trained models and their checkpoints.'),
    experiments: z.number().int().min(0).describe('Experiments.'),
  })
  .meta({ id: 'Quotas' });
export type Quotas = z.infer<typeof quotasSchema>;

/** The quotas every tenant has unless an admin set others (QUOTA_* settings). */
export function quotaDefaults(c: Config): Quotas {
  return { activeJobs: c.QUOTA_ACTIVE_JOBS, datasetBytes: c.QUOTA_DATASET_BYTES, artifactBytes: c.QUOTA_ARTIFACT_BYTES, experiments: c.QUOTA_EXPERIMENTS };
}

/** A tenant's use of a quota that stopped something, as refusals and waiting trials report it. */
export interface QuotaUse {
  quota: QuotaName;
  used: number;
  limit: number;
}

/** The most a tenant may store of each usage, and what one write would add (see storageRoomLua). */
export type StorageCharge = { charge: Partial<Usage>; limits: Usage };

/** ARGV for storageRoomLua: name, bytes, limit for each usage the charge adds to. */
export function storageRoomArgs({ charge, limits }: StorageCharge): string[] {
  return USAGE_NAMES.filter((name) => charge[name]).flatMap((name) => [name, String(charge[name]), String(limits[name])]);
}

/**
 * Lua that refuses a write whose bytes would take the tenant past a storage quota, for the scripts
 * that record something and charge it in the same step (so concurrent writes cannot both pass the
 * check and together go over). Reads (name, bytes, limit) triples from ARGV[first] on; returns
 * {0, name, used after the write, limit} for the first quota the write would pass.
 */
export const storageRoomLua = (usageKey: string, first: number) => `
for i = ${first}, #ARGV, 3 do
  local bytes = tonumber(ARGV[i + 1])
  local after = tonumber(redis.call('HGET', ${usageKey}, ARGV[i]) or '0') + bytes
  if bytes > 0 and after > tonumber(ARGV[i + 2]) then return {0, ARGV[i], after, tonumber(ARGV[i + 2])} end
end
`;

/** Lua that charges the (name, bytes, limit) triples from ARGV[first] on to the usage hash (and the record's hash, when given). */
export const storageChargeLua = (usageKey: string, first: number, recordKey?: string) => `
for i = ${first}, #ARGV, 3 do
  redis.call('HINCRBY', ${usageKey}, ARGV[i], ARGV[i + 1])${
    recordKey
      ? `
  redis.call('HSET', ${recordKey}, ARGV[i], ARGV[i + 1])`
      : ''
  }
end
`;

/** The quota a script refused with ({0, name, used, limit}), or undefined when it went ahead. */
export function refusedUse(reply: unknown[]): QuotaUse | undefined {
  if (Number(reply[0]) === 1) return undefined;
  return { quota: String(reply[1]) as QuotaName, used: Number(reply[2]), limit: Number(reply[3]) };
}

/** BullMQ's largest priority; fair-scheduling turns are capped at it. */
export const MAX_PRIORITY = 2 ** 21;

/**
 * A tenant's next turn (BullMQ priority) in the training queue. A tenant with nothing waiting
 * starts at the queue's head turn; one with jobs waiting goes one turn after its latest, so jobs
 * of different tenants alternate: round-robin by turn, FIFO within a turn.
 * KEYS: tenant's turn, tenant's active set. ARGV: head turn of the queue, max priority.
 */
const NEXT_TURN = `
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local head = tonumber(ARGV[1])
local turn = head
if redis.call('SCARD', KEYS[2]) > 1 and last + 1 > head then turn = last + 1 end
if turn > tonumber(ARGV[2]) then turn = tonumber(ARGV[2]) end
redis.call('SET', KEYS[1], turn)
return turn
`;

/** Per-tenant bookkeeping in Redis: quota overrides, storage use, active jobs, scheduling turns. */
export class TenantStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** Tenants that have keys, resources or quotas set. */
  async list(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.tenants)).sort();
  }

  async quotaOverrides(tenant: string): Promise<Partial<Quotas>> {
    const h = await this.redis.hgetall(this.keys.tenantQuotas(tenant));
    return Object.fromEntries(
      Object.entries(h)
        .filter(([k]) => (QUOTA_NAMES as readonly string[]).includes(k))
        .map(([k, v]) => [k, Number(v)]),
    );
  }

  /** The tenant's quotas: the defaults, with the ones an admin set for it instead. */
  async limits(tenant: string, defaults: Quotas): Promise<Quotas> {
    return { ...defaults, ...(await this.quotaOverrides(tenant)) };
  }

  /** Sets (a number) or clears (null: back to the default) a tenant's quotas. */
  async setQuotas(tenant: string, quotas: Partial<Record<QuotaName, number | null>>): Promise<void> {
    const multi = this.redis.multi().sadd(this.keys.tenants, tenant);
    for (const [name, value] of Object.entries(quotas)) {
      if (value === null) multi.hdel(this.keys.tenantQuotas(tenant), name);
      else if (value !== undefined) multi.hset(this.keys.tenantQuotas(tenant), name, value);
    }
    await multi.exec();
  }

  async usage(tenant: string): Promise<Usage> {
    return usageFrom(await this.redis.hmget(this.keys.tenantUsage(tenant), ...USAGE_NAMES));
  }

  /** Adds (or with negative numbers takes back) storage use. */
  async addUsage(tenant: string, delta: Partial<Usage>): Promise<void> {
    const multi = this.redis.multi().sadd(this.keys.tenants, tenant);
    for (const name of USAGE_NAMES) if (delta[name]) multi.hincrby(this.keys.tenantUsage(tenant), name, delta[name]);
    await multi.exec();
  }

  /**
   * Takes out of the tenant's active set the ids whose job is finished or gone. A job enters the
   * set in the step that writes its record (JobStore.create) and leaves it in the step that ends or
   * deletes it, so only ids written by versions that admitted a job before recording it are ever
   * pruned; a job being created is never in the set without its record. Returns the count after.
   */
  async pruneActive(tenant: string, statusOf: (id: string) => Promise<JobStatus | undefined>): Promise<number> {
    const key = this.keys.tenantActiveJobs(tenant);
    const ids = await this.redis.smembers(key);
    const statuses = await Promise.all(ids.map(statusOf));
    const done = ids.filter((_, i) => statuses[i] === undefined || isTerminal(statuses[i]!));
    if (done.length > 0) await this.redis.srem(key, ...done);
    return ids.length - done.length;
  }

  /** The tenant's queued and running jobs. */
  async activeCount(tenant: string): Promise<number> {
    return this.redis.scard(this.keys.tenantActiveJobs(tenant));
  }

  /** The tenant's queued and running jobs, pruned (see pruneActive) when they seem to fill `max`: an early check before a job is created. */
  async activeBelow(tenant: string, max: number, statusOf: (id: string) => Promise<JobStatus | undefined>): Promise<{ room: boolean; active: number }> {
    let active = await this.activeCount(tenant);
    if (active >= max) active = await this.pruneActive(tenant, statusOf);
    return { room: active < max, active };
  }

  /** The tenant's next scheduling turn given the queue's head turn (see NEXT_TURN). */
  async nextTurn(tenant: string, headTurn: number): Promise<number> {
    return Number(await this.redis.eval(NEXT_TURN, 2, this.keys.tenantTurn(tenant), this.keys.tenantActiveJobs(tenant), Math.max(1, headTurn), MAX_PRIORITY));
  }
}
