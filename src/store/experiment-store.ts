import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type {
  ExperimentEventType,
  ExperimentStatus,
  ModelCost,
  StoppedBy,
  StoredExperimentSpec,
  StoredJobSpec,
  TrialProgress,
  TrialWait,
} from '../spec/index.js';
import type { ExperimentPlan, SchedulerDecision, SchedulerRecords, TrialPlan } from '../planning/index.js';
import { DEFAULT_TENANT } from '../shared/access.js';
import type { RedisKeys } from './keys.js';
import { type QuotaUse, type StorageCharge, USAGE_NAMES, refusedUse, storageChargeLua, storageRoomArgs, storageRoomLua } from './tenant-store.js';
import { type StreamEvent, readStream } from './streams.js';

/** A trial as stored: its plan, resolved spec and cost, and the id of the job that trains it. */
export interface TrialDef extends Omit<TrialPlan, 'spec'> {
  jobId: string;
  /** Its inline data references the experiment's one stored copy. */
  spec: StoredJobSpec;
  cost?: ModelCost;
}

export interface ExperimentMeta {
  id: string;
  /** The tenant of the key that submitted it; its trials' jobs belong to it too. */
  tenant: string;
  name: string | null;
  status: ExperimentStatus;
  spec: StoredExperimentSpec;
  plan: Omit<ExperimentPlan, 'trials'>;
  createdAt: string;
  finishedAt: string | null;
}

/** What the experiment learned from its trials' job events; written only under the experiment lock. */
export interface ExperimentState {
  phase: TrialPlan['phase'];
  /** Per trial: the id of the last event read from its job's stream. */
  cursors: Record<string, string>;
  progress: Record<string, TrialProgress>;
  records: SchedulerRecords;
  decisions: Record<string, SchedulerDecision[]>;
  /** Trials the scheduler stopped. */
  stops: Record<string, StoppedBy>;
  /** The next trial, while a tenant quota has no room for it (absent in states written before trials waited). */
  waiting?: TrialWait | null;
}

export interface NewExperimentEvent {
  type: ExperimentEventType;
  data: Record<string, unknown>;
}

export type ExperimentEvent = StreamEvent<ExperimentEventType>;

/**
 * Writes what one reconcile decided, all together and only while the writer still holds the
 * experiment lock and the experiment is running: the state, new trials, record fields, events.
 * KEYS: lock, state, trials, events, record, active set. ARGV: token, state JSON, trials JSON
 * (number -> definition JSON), fields JSON, '1' to leave the active set, experiment id, then
 * one JSON event per remaining argument.
 */
const COMMIT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[5], 'status') ~= 'running' then return -1 end
redis.call('SET', KEYS[2], ARGV[2])
for k, v in pairs(cjson.decode(ARGV[3])) do redis.call('HSET', KEYS[3], k, v) end
for k, v in pairs(cjson.decode(ARGV[4])) do redis.call('HSET', KEYS[5], k, v) end
if ARGV[5] == '1' then redis.call('SREM', KEYS[6], ARGV[6]) end
for i = 7, #ARGV do
  local ev = cjson.decode(ARGV[i])
  redis.call('XADD', KEYS[4], '*', 'type', ev['type'], 'data', ev['data'])
end
return 1
`;

/**
 * Removes an experiment's keys and gives the bytes it was charged back to its tenant, in one step.
 * KEYS: record, tenant usage, experiment index, tenant's experiment index, active set, then the
 * other keys to delete. ARGV: id, then the usage names.
 */
const REMOVE = `
for i = 2, #ARGV do
  local held = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if held ~= 0 then redis.call('HINCRBY', KEYS[2], ARGV[i], -held) end
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('DEL', KEYS[1])
for i = 6, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
`;

/**
 * Creates an experiment if its tenant holds fewer than the most it may and its stored inline data
 * fits the tenant's storage quotas: the checks and the writes in one step, charging the tenant what
 * the record says it holds. KEYS: record, trials, state, index, tenant's index, active set, tenant
 * usage. ARGV: the most experiments, id, score (creation time), record JSON, trials JSON (number ->
 * definition JSON), state JSON, then (usage name, bytes, limit) triples. Returns {1} or the refusal
 * {0, quota, used, limit}.
 */
const CREATE = `
local held = redis.call('ZCARD', KEYS[5])
if held >= tonumber(ARGV[1]) then return {0, 'experiments', held, tonumber(ARGV[1])} end
${storageRoomLua('KEYS[7]', 7)}
for k, v in pairs(cjson.decode(ARGV[4])) do redis.call('HSET', KEYS[1], k, v) end
for k, v in pairs(cjson.decode(ARGV[5])) do redis.call('HSET', KEYS[2], k, v) end
redis.call('SET', KEYS[3], ARGV[6])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[2])
redis.call('SADD', KEYS[6], ARGV[2])
${storageChargeLua('KEYS[7]', 7)}
return {1}
`;

/** Releases a lock only when it still holds the caller's token. */
const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

const LOCK_TTL_MS = 15_000;

export const emptyState = (phase: TrialPlan['phase']): ExperimentState => ({ phase, cursors: {}, progress: {}, records: {}, decisions: {}, stops: {} });

/** Experiments in Redis: record, trials, state and event stream, and the lock that orders decisions. */
export class ExperimentStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /**
   * Creates the experiment only while its tenant holds fewer than `max` experiments and `storage`
   * (its stored inline data) fits the tenant's storage quotas, checked and written in one step
   * (concurrent submissions cannot overshoot), charging it and its tenant in the same step.
   * Returns the quota that refused it, if one did (then nothing is written).
   */
  async create(meta: ExperimentMeta, trials: TrialDef[], state: ExperimentState, max: number, storage: StorageCharge): Promise<QuotaUse | undefined> {
    const k = this.keys;
    const charged = USAGE_NAMES.filter((name) => storage.charge[name]);
    const record = {
      id: meta.id,
      tenant: meta.tenant,
      name: meta.name ?? '',
      status: meta.status,
      spec: JSON.stringify(meta.spec),
      plan: JSON.stringify(meta.plan),
      createdAt: meta.createdAt,
      ...Object.fromEntries(charged.map((name) => [name, String(storage.charge[name])])),
    };
    const reply = (await this.redis.eval(
      CREATE,
      7,
      k.experiment(meta.id),
      k.experimentTrials(meta.id),
      k.experimentState(meta.id),
      k.experimentIndex,
      k.tenantExperiments(meta.tenant),
      k.experimentsActive,
      k.tenantUsage(meta.tenant),
      max,
      meta.id,
      Date.parse(meta.createdAt),
      JSON.stringify(record),
      JSON.stringify(Object.fromEntries(trials.map((t) => [String(t.index), JSON.stringify(t)]))),
      JSON.stringify(state),
      ...storageRoomArgs(storage),
    )) as unknown[];
    return refusedUse(reply);
  }

  async getMeta(id: string): Promise<ExperimentMeta | undefined> {
    const h = await this.redis.hgetall(this.keys.experiment(id));
    if (!h.id) return undefined;
    return {
      id: h.id,
      tenant: h.tenant ?? DEFAULT_TENANT,
      name: h.name || null,
      status: h.status as ExperimentStatus,
      spec: JSON.parse(h.spec!) as StoredExperimentSpec,
      plan: JSON.parse(h.plan!) as ExperimentMeta['plan'],
      createdAt: h.createdAt!,
      finishedAt: h.finishedAt || null,
    };
  }

  async getStatus(id: string): Promise<ExperimentStatus | undefined> {
    return ((await this.redis.hget(this.keys.experiment(id), 'status')) as ExperimentStatus | null) ?? undefined;
  }

  /** Trials in number order. */
  async getTrials(id: string): Promise<TrialDef[]> {
    const all = await this.redis.hgetall(this.keys.experimentTrials(id));
    return Object.values(all)
      .map((v) => JSON.parse(v) as TrialDef)
      .sort((a, b) => a.index - b.index);
  }

  async getTrial(id: string, index: number): Promise<TrialDef | undefined> {
    const raw = await this.redis.hget(this.keys.experimentTrials(id), String(index));
    return raw ? (JSON.parse(raw) as TrialDef) : undefined;
  }

  async getState(id: string): Promise<ExperimentState | undefined> {
    const raw = await this.redis.get(this.keys.experimentState(id));
    return raw ? (JSON.parse(raw) as ExperimentState) : undefined;
  }

  /** Newest first; `tenant` undefined lists every tenant's (admin). */
  async list(options: { limit: number; cursor?: number; tenant?: string }): Promise<{ items: ExperimentMeta[]; next: number | null }> {
    const start = options.cursor ?? 0;
    const index = options.tenant === undefined ? this.keys.experimentIndex : this.keys.tenantExperiments(options.tenant);
    const ids = await this.redis.zrevrange(index, start, start + options.limit - 1);
    const items = (await Promise.all(ids.map((id) => this.getMeta(id)))).filter((m): m is ExperimentMeta => m !== undefined);
    return { items, next: ids.length === options.limit ? start + ids.length : null };
  }

  /** The tenant an experiment belongs to; undefined when there is no such experiment. */
  async tenantOf(id: string): Promise<string | undefined> {
    const [exists, tenant] = await this.redis.hmget(this.keys.experiment(id), 'id', 'tenant');
    return exists ? (tenant ?? DEFAULT_TENANT) : undefined;
  }

  /** How many experiments the tenant holds (its QUOTA_EXPERIMENTS count; deleting one gives it back). */
  count(tenant: string): Promise<number> {
    return this.redis.zcard(this.keys.tenantExperiments(tenant));
  }

  activeIds(): Promise<string[]> {
    return this.redis.smembers(this.keys.experimentsActive);
  }

  /**
   * Takes the experiment's lock, waiting up to `waitMs` for another process to release it.
   * Returns the token to pass to commit/unlock, or undefined when it stayed taken.
   */
  async lock(id: string, waitMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const deadline = Date.now() + waitMs;
    for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
      if (await this.redis.set(this.keys.experimentLock(id), token, 'PX', LOCK_TTL_MS, 'NX')) return token;
      if (Date.now() + pause > deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  async unlock(id: string, token: string): Promise<void> {
    await this.redis.eval(UNLOCK, 1, this.keys.experimentLock(id), token);
  }

  /** Returns 'ok', 'lock_lost' or 'not_running' (nothing written then). */
  async commit(
    id: string,
    token: string,
    change: { state: ExperimentState; trials: TrialDef[]; fields: Record<string, string>; leaveActive: boolean; events: NewExperimentEvent[] },
  ): Promise<'ok' | 'lock_lost' | 'not_running'> {
    const k = this.keys;
    const result = await this.redis.eval(
      COMMIT,
      6,
      k.experimentLock(id),
      k.experimentState(id),
      k.experimentTrials(id),
      k.experimentEvents(id),
      k.experiment(id),
      k.experimentsActive,
      token,
      JSON.stringify(change.state),
      JSON.stringify(Object.fromEntries(change.trials.map((t) => [String(t.index), JSON.stringify(t)]))),
      JSON.stringify(change.fields),
      change.leaveActive ? '1' : '',
      id,
      ...change.events.map((e) => JSON.stringify({ type: e.type, data: JSON.stringify(e.data) })),
    );
    return result === 1 ? 'ok' : result === 0 ? 'lock_lost' : 'not_running';
  }

  eventsKey(id: string): string {
    return this.keys.experimentEvents(id);
  }

  readEvents(id: string, afterId: string): Promise<ExperimentEvent[]> {
    return readStream<ExperimentEventType>(this.redis, this.keys.experimentEvents(id), afterId);
  }

  /**
   * Removes the experiment's keys and gives the bytes it was charged back to its tenant (its
   * trials' jobs and its artifacts are removed by the caller).
   */
  async remove(id: string): Promise<void> {
    const k = this.keys;
    const tenant = (await this.tenantOf(id)) ?? DEFAULT_TENANT;
    await this.redis.eval(
      REMOVE,
      9,
      k.experiment(id),
      k.tenantUsage(tenant),
      k.experimentIndex,
      k.tenantExperiments(tenant),
      k.experimentsActive,
      k.experimentTrials(id),
      k.experimentState(id),
      k.experimentEvents(id),
      k.experimentLock(id),
      id,
      ...USAGE_NAMES,
    );
  }
}
