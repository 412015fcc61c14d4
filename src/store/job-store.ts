import type { Redis } from 'ioredis';
import {
  type EngineRun,
  type EpochMetrics,
  type JobError,
  type JobEvent,
  type JobEventData,
  type StoredJobRecord,
  type StoredSpec,
  JOB_STATUSES,
  type JobListItem,
  type JobSpec,
  type ListedJobSpec,
  listedSpec,
  referencedInlineBytes,
  type JobStatus,
  type ModelCost,
  type NewJobEvent,
  type PreprocessingState,
  type StoppedBy,
  isTerminal,
} from '../spec/index.js';
import { DEFAULT_TENANT } from '../shared/access.js';
import type { RedisKeys } from './keys.js';
import {
  type QuotaUse,
  type Quotas,
  USAGE_NAMES,
  type Usage,
  refusedUse,
  storageChargeLua,
  storageRoomArgs,
  storageRoomLua,
  usageFrom,
} from './tenant-store.js';
import { readStream } from './streams.js';

export type { JobEvent };

/**
 * Sets what a job's training holds in the artifact store (field `trainedBytes`, as last measured)
 * and charges the difference to the job's and its tenant's artifactBytes: measuring again and
 * again charges each byte once. A Lua fragment over the job hash KEYS[1], the bytes and the
 * tenant's usage hash given as Lua expressions.
 */
const settleTrainedLua = (bytes: string, usage: string) => `
local delta = tonumber(${bytes}) - tonumber(redis.call('HGET', KEYS[1], 'trainedBytes') or '0')
redis.call('HSET', KEYS[1], 'trainedBytes', ${bytes})
if delta ~= 0 then
  redis.call('HINCRBY', KEYS[1], 'artifactBytes', delta)
  redis.call('HINCRBY', ${usage}, 'artifactBytes', delta)
end
`;

/**
 * Moves a job between states atomically: the status check, the record update and the
 * events land together or not at all, so a stream never shows two terminal events. A move to
 * a terminal status takes the job out of its tenant's active set in the same step, so the
 * tenant's queued-plus-running count is exact at every moment; it may settle what the job's
 * training holds in the same step too (see settleTrainedLua), so a terminal event's readers see
 * the job's final stored bytes.
 * KEYS: job hash, event stream, history, and for a terminal status the tenant's active set and
 * usage hash. ARGV: maxlen, new status, allowed current statuses (comma-joined), fields JSON,
 * trained bytes to settle ('' = none), then one JSON event per remaining argument.
 */
const TRANSITION = `
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return {0, ''} end
if not string.find(',' .. ARGV[3] .. ',', ',' .. cur .. ',', 1, true) then return {0, cur} end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
local fields = cjson.decode(ARGV[4])
for k, v in pairs(fields) do redis.call('HSET', KEYS[1], k, v) end
if ARGV[5] ~= '' then
${settleTrainedLua('ARGV[5]', 'KEYS[5]')}
end
for i = 6, #ARGV do
  local ev = cjson.decode(ARGV[i])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'type', ev['type'], 'data', ev['data'])
end
if KEYS[4] then redis.call('SREM', KEYS[4], redis.call('HGET', KEYS[1], 'id')) end
return {1, cur}
`;

/**
 * Records one finished epoch, once (in the history, and as the record's `lastEpoch`, which job
 * lists show without reading the history), and advances the checkpoint pointer, fenced by the BullMQ
 * job lock: a worker that lost the job (its lock expired and another worker took over) can
 * neither append events nor move the checkpoint.
 * KEYS: job hash, event stream, history list, lock key. ARGV: maxlen, epoch, metrics JSON,
 * event data JSON, lock token ('' = unfenced), checkpoint epoch ('' = none).
 * Returns 1 appended, 2 already recorded (a resumed run repeating an epoch), 0 not running,
 * -1 lock lost.
 */
const APPEND_EPOCH = `
if ARGV[5] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[5] then return -1 end
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
local epoch = tonumber(ARGV[2])
if ARGV[6] ~= '' and tonumber(ARGV[6]) > tonumber(redis.call('HGET', KEYS[1], 'checkpoint') or '0') then
  redis.call('HSET', KEYS[1], 'checkpoint', ARGV[6])
end
local cur = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if epoch <= cur then return 2 end
if epoch ~= cur + 1 then return redis.error_reply('epoch ' .. epoch .. ' after ' .. cur) end
redis.call('HSET', KEYS[1], 'epoch', ARGV[2], 'lastEpoch', ARGV[3])
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'type', 'epoch', 'data', ARGV[4])
return 1
`;

/** KEYS: job hash. ARGV: field, value, ... (written only while the record exists). */
const SET_FIELDS = `
if redis.call('HEXISTS', KEYS[1], 'id') == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

/**
 * Settles what a job's training holds (see settleTrainedLua), only while the job exists.
 * KEYS: job hash, tenant usage hash. ARGV: bytes measured.
 */
const SETTLE_TRAINED = `
if redis.call('HEXISTS', KEYS[1], 'id') == 0 then return 0 end
${settleTrainedLua('ARGV[1]', 'KEYS[2]')}
return 1
`;

/**
 * Creates a job within its tenant's quotas, all in one step: its inline data (already stored)
 * must fit the storage quotas, and it must find a free queued-plus-running slot; then the record,
 * its index entries and first event are written, the job enters the tenant's active set and it
 * and its tenant are charged. Concurrent creations are thus admitted one at a time against the
 * counts, and a job is never in the active set without its record.
 * KEYS: job hash, event stream, job index, tenant's job index, tenant usage, tenant's active set,
 * tenants set. ARGV: maxlen, index member, job id, tenant, record JSON, event type, event data,
 * most active jobs ('' = no limit), then (usage name, bytes, limit) triples.
 * Returns {1} or the refusal {0, quota, used, limit}.
 */
const CREATE = `${storageRoomLua('KEYS[5]', 9)}
local active = redis.call('SCARD', KEYS[6])
if ARGV[8] ~= '' and active >= tonumber(ARGV[8]) then return {0, 'activeJobs', active, tonumber(ARGV[8])} end
for k, v in pairs(cjson.decode(ARGV[5])) do redis.call('HSET', KEYS[1], k, v) end
${storageChargeLua('KEYS[5]', 9, 'KEYS[1]')}
redis.call('ZADD', KEYS[3], 0, ARGV[2])
redis.call('ZADD', KEYS[4], 0, ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'type', ARGV[6], 'data', ARGV[7])
redis.call('SADD', KEYS[6], ARGV[3])
redis.call('SADD', KEYS[7], ARGV[4])
return {1}
`;

/** The quotas a new job is admitted against (JobStore.create). */
export type JobQuotas = Pick<Quotas, 'activeJobs' | 'datasetBytes' | 'artifactBytes'>;

/**
 * Removes a job's keys and gives its stored bytes back to its tenant, in one step (and takes
 * it out of the tenant's active set, should it still be there).
 * KEYS: job hash, history, events, job index, tenant's job index, tenant usage hash, tenant's
 * active set. ARGV: index member, job id, then the usage names.
 */
const REMOVE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 3, #ARGV do
  local held = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if held ~= 0 then redis.call('HINCRBY', KEYS[6], ARGV[i], -held) end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('SREM', KEYS[7], ARGV[2])
return 1
`;

export type AppendResult = 'appended' | 'duplicate' | 'not_running' | 'lock_lost';

export interface ListOptions {
  status?: JobStatus;
  experimentId?: string;
  /** Only this tenant's jobs (undefined: every tenant's). */
  tenant?: string;
  cursor?: string;
  limit: number;
  /** `slim` (default): no history, no inline data; `full`: whole records. */
  view?: 'slim' | 'full';
  /**
   * A page stops before its records' stored size passes this (it always holds at least one
   * record), so a response stays far below what one string can hold.
   */
  maxBytes?: number;
}

/** The record fields a slim list item is made of (the spec and the history stay in Redis; the last epoch is in `lastEpoch`). */
const SLIM_FIELDS = [
  'id',
  'lastEpoch',
  'name',
  'status',
  'listedSpec',
  'cost',
  'preprocessing',
  'createdAt',
  'startedAt',
  'finishedAt',
  'epoch',
  'epochs',
  'backend',
  'engine',
  'versions',
  'attempts',
  'starts',
  'checkpoint',
  'error',
  'experimentId',
  'trial',
  'stoppedBy',
  ...USAGE_NAMES,
] as const;

export class JobStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly maxlen: number,
  ) {}

  /**
   * Writes a new queued job and its first event (the job lifecycle's `create` says which), admits
   * it into its tenant's queued-plus-running count and charges it and its tenant `charge` (its
   * inline data, already stored), all in one step (see CREATE). With `quotas`, refuses instead when
   * the charge would pass a storage quota or no slot is free, and writes nothing: the refusal is
   * returned.
   */
  async create(
    input: {
      id: string;
      tenant: string;
      name: string | null;
      spec: StoredSpec;
      createdAt: Date;
      cost?: ModelCost;
      experiment?: { id: string; trial: number };
      charge?: Partial<Usage>;
      quotas?: JobQuotas;
    },
    event: NewJobEvent & { type: 'status' },
  ): Promise<QuotaUse | undefined> {
    const createdAt = input.createdAt.toISOString();
    const record: Record<string, string> = {
      id: input.id,
      tenant: input.tenant,
      name: input.name ?? '',
      status: 'queued',
      spec: JSON.stringify(input.spec),
      // Lists read this instead of the spec (records written before inline data moved to the artifact store hold it).
      listedSpec: JSON.stringify(listedSpec(input.spec)),
      createdAt,
      epoch: '0',
      epochs: String(input.spec.training.epochs),
      attempts: '0',
      starts: '0',
      ...(input.cost ? { cost: JSON.stringify(input.cost) } : {}),
      ...(input.experiment ? { experimentId: input.experiment.id, trial: String(input.experiment.trial) } : {}),
    };
    const unlimited = { activeJobs: Number.MAX_SAFE_INTEGER, datasetBytes: Number.MAX_SAFE_INTEGER, artifactBytes: Number.MAX_SAFE_INTEGER };
    const quotas = input.quotas ?? unlimited;
    const reply = (await this.redis.eval(
      CREATE,
      7,
      this.keys.job(input.id),
      this.keys.events(input.id),
      this.keys.jobIndex,
      this.keys.tenantJobs(input.tenant),
      this.keys.tenantUsage(input.tenant),
      this.keys.tenantActiveJobs(input.tenant),
      this.keys.tenants,
      this.maxlen,
      indexMember(input.createdAt, input.id),
      input.id,
      input.tenant,
      JSON.stringify(record),
      event.type,
      JSON.stringify(event.data),
      input.quotas ? input.quotas.activeJobs : '',
      ...storageRoomArgs({ charge: input.charge ?? {}, limits: quotas }),
    )) as unknown[];
    return refusedUse(reply);
  }

  /**
   * Removes the record, its history, its events and its index entry, and gives the bytes the job
   * was charged (at its creation, and by settleTrained) back to its tenant. The caller deletes its artifacts.
   */
  async remove(id: string): Promise<boolean> {
    const [createdAt, tenant] = await this.redis.hmget(this.keys.job(id), 'createdAt', 'tenant');
    if (!createdAt) return false;
    const owner = tenant ?? DEFAULT_TENANT;
    const removed = await this.redis.eval(
      REMOVE,
      7,
      this.keys.job(id),
      this.keys.history(id),
      this.keys.events(id),
      this.keys.jobIndex,
      this.keys.tenantJobs(owner),
      this.keys.tenantUsage(owner),
      this.keys.tenantActiveJobs(owner),
      indexMember(new Date(createdAt), id),
      id,
      ...USAGE_NAMES,
    );
    return removed === 1;
  }

  /**
   * Records the bytes a job's training holds in the artifact store now (its model and
   * checkpoints, measured), charging the change since the last measure to its tenant's
   * artifactBytes (see SETTLE_TRAINED). False when the job no longer exists.
   */
  async settleTrained(id: string, bytes: number): Promise<boolean> {
    const tenant = await this.tenantOf(id);
    if (tenant === undefined) return false;
    return (await this.redis.eval(SETTLE_TRAINED, 2, this.keys.job(id), this.keys.tenantUsage(tenant), bytes)) === 1;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.job(id))) === 1;
  }

  /** The tenant a job belongs to; undefined when there is no such job. */
  async tenantOf(id: string): Promise<string | undefined> {
    const [createdAt, tenant] = await this.redis.hmget(this.keys.job(id), 'createdAt', 'tenant');
    return createdAt ? (tenant ?? DEFAULT_TENANT) : undefined;
  }

  async getStatus(id: string): Promise<JobStatus | undefined> {
    return ((await this.redis.hget(this.keys.job(id), 'status')) as JobStatus | null) ?? undefined;
  }

  /** The record as stored: inline data as references (the jobs service reads the data back). */
  async get(id: string): Promise<StoredJobRecord | undefined> {
    const [hash, history] = await Promise.all([this.redis.hgetall(this.keys.job(id)), this.redis.lrange(this.keys.history(id), 0, -1)]);
    if (!hash.id) return undefined;
    return toRecord(hash, history);
  }

  /** Newest first; `cursor` is the `next` of the previous page. */
  async list(options: ListOptions & { view?: 'slim' }): Promise<{ items: JobListItem[]; next: string | null }>;
  async list(options: ListOptions & { view: 'full' }): Promise<{ items: StoredJobRecord[]; next: string | null }>;
  async list(options: ListOptions): Promise<{ items: (StoredJobRecord | JobListItem)[]; next: string | null }> {
    const items: (StoredJobRecord | JobListItem)[] = [];
    const maxBytes = options.maxBytes ?? Infinity;
    let bytes = 0;
    let max = options.cursor ? `(${decodeCursor(options.cursor)}` : '+';
    const batch = Math.max(options.limit, 50);
    let scanned = 0;
    for (;;) {
      const index = options.tenant === undefined ? this.keys.jobIndex : this.keys.tenantJobs(options.tenant);
      const members = await this.redis.zrevrangebylex(index, max, '-', 'LIMIT', 0, batch);
      for (const member of members) {
        const id = member.slice(member.indexOf(':') + 1);
        if (!(await this.matches(id, options))) {
          scanned++;
          max = `(${member}`;
          continue;
        }
        const loaded = options.view === 'full' ? await this.loadFull(id) : await this.loadSlim(id);
        if (loaded && items.length > 0 && bytes + loaded.bytes > maxBytes) return { items, next: encodeCursor(max.slice(1)) };
        scanned++;
        max = `(${member}`;
        if (!loaded) continue;
        bytes += loaded.bytes;
        items.push(loaded.item);
        if (items.length === options.limit) return { items, next: encodeCursor(member) };
      }
      // A status filter over a long history stops after a bounded scan and hands back a cursor.
      if (members.length < batch) return { items, next: null };
      if (scanned >= 1_000) return { items, next: encodeCursor(max.slice(1)) };
    }
  }

  /** Jobs by status over the whole index, read in pipelined batches. */
  async countByStatus(): Promise<Record<JobStatus, number>> {
    const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    let max = '+';
    for (;;) {
      const members = await this.redis.zrevrangebylex(this.keys.jobIndex, max, '-', 'LIMIT', 0, 1_000);
      if (members.length === 0) return counts;
      const pipeline = this.redis.pipeline();
      for (const m of members) pipeline.hget(this.keys.job(m.slice(m.indexOf(':') + 1)), 'status');
      for (const [, status] of (await pipeline.exec()) ?? []) if (typeof status === 'string' && status in counts) counts[status as JobStatus]++;
      max = `(${members.at(-1)!}`;
    }
  }

  /** Whether a job passes a list's filters (read before the record is loaded). */
  private async matches(id: string, options: ListOptions): Promise<boolean> {
    if (!options.status && !options.experimentId) return true;
    const [status, experimentId] = await this.redis.hmget(this.keys.job(id), 'status', 'experimentId');
    return (!options.status || status === options.status) && (!options.experimentId || experimentId === options.experimentId);
  }

  private async loadFull(id: string): Promise<{ item: StoredJobRecord; bytes: number } | undefined> {
    const [hash, history] = await Promise.all([this.redis.hgetall(this.keys.job(id)), this.redis.lrange(this.keys.history(id), 0, -1)]);
    if (!hash.id) return undefined;
    const item = toRecord(hash, history);
    // Its inline data is read back into the response too.
    const bytes = Object.values(hash).reduce((n, v) => n + v.length, 0) + history.reduce((n, v) => n + v.length + 1, 0) + referencedInlineBytes(item.spec);
    return { item, bytes };
  }

  private async loadSlim(id: string): Promise<{ item: JobListItem; bytes: number } | undefined> {
    const values = await this.redis.hmget(this.keys.job(id), ...SLIM_FIELDS);
    if (!values[0]) return undefined;
    const h: Record<string, string> = {};
    SLIM_FIELDS.forEach((f, i) => values[i] !== null && (h[f] = values[i]!));
    // Records written before lists had their own spec field: slim the full one once here.
    h.listedSpec ??= JSON.stringify(listedSpec(JSON.parse((await this.redis.hget(this.keys.job(id), 'spec')) ?? '{}') as JobSpec));
    // And before they kept their last epoch: the history's tail, one entry.
    if (h.lastEpoch === undefined && Number(h.epoch ?? 0) > 0) {
      const tail = await this.redis.lindex(this.keys.history(id), -1);
      if (tail !== null) h.lastEpoch = tail;
    }
    const { spec: _spec, history: _history, ...rest } = toRecord({ ...h, spec: 'null' }, []);
    const bytes = Object.values(h).reduce((n, v) => n + v.length, 0);
    const lastEpoch = h.lastEpoch ? (JSON.parse(h.lastEpoch) as EpochMetrics) : null;
    return { item: { ...rest, lastEpoch, spec: JSON.parse(h.listedSpec) as ListedJobSpec }, bytes };
  }

  async transition(
    id: string,
    from: readonly JobStatus[],
    to: JobStatus,
    fields: Record<string, string>,
    events: NewJobEvent[],
    /** Bytes the job's training holds once it is in a terminal status, settled in the same step (see settleTrained). */
    trainedBytes?: number,
  ): Promise<{ ok: boolean; previous: JobStatus | undefined }> {
    // A job's tenant never changes: read it first, for the active set a terminal move leaves.
    const tenant = isTerminal(to) ? await this.tenantOf(id) : undefined;
    const tenantKeys = tenant === undefined ? [] : [this.keys.tenantActiveJobs(tenant), this.keys.tenantUsage(tenant)];
    const result = (await this.redis.eval(
      TRANSITION,
      3 + tenantKeys.length,
      this.keys.job(id),
      this.keys.events(id),
      this.keys.history(id),
      ...tenantKeys,
      this.maxlen,
      to,
      from.join(','),
      JSON.stringify(fields),
      tenant === undefined || trainedBytes === undefined ? '' : String(trainedBytes),
      ...events.map((e) => JSON.stringify({ type: e.type, data: JSON.stringify(e.data) })),
    )) as [number, string];
    return { ok: result[0] === 1, previous: (result[1] || undefined) as JobStatus | undefined };
  }

  /** Notes on a trial's record that its experiment's scheduler stopped it (its worker hears it in the verdict it waits for). */
  async requestStop(id: string, by: StoppedBy): Promise<void> {
    await this.setFields(id, { stopRequested: by });
  }

  /**
   * Sets informational fields (backend, versions) without touching the status, on a record that
   * exists: a worker reporting after the job was deleted must not leave a hash behind.
   */
  async setFields(id: string, fields: Record<string, string>): Promise<void> {
    await this.redis.eval(SET_FIELDS, 1, this.keys.job(id), ...Object.entries(fields).flat());
  }

  async appendEpoch(
    id: string,
    metrics: EpochMetrics,
    eventData: JobEventData<'epoch'>,
    fence: { lockKey: string; token: string } | undefined,
    checkpointEpoch?: number,
  ): Promise<AppendResult> {
    const result = await this.redis.eval(
      APPEND_EPOCH,
      4,
      this.keys.job(id),
      this.keys.events(id),
      this.keys.history(id),
      fence?.lockKey ?? this.keys.job(id),
      this.maxlen,
      metrics.epoch,
      JSON.stringify(metrics),
      JSON.stringify(eventData),
      fence?.token ?? '',
      checkpointEpoch ?? '',
    );
    return ({ 1: 'appended', 2: 'duplicate', 0: 'not_running', [-1]: 'lock_lost' } as const)[result as 1 | 2 | 0 | -1];
  }

  /** The key of a job's event stream. */
  eventsKey(id: string): string {
    return this.keys.events(id);
  }

  /**
   * Events after `afterId` ("0" = from the start), oldest first. With `blockMs`, waits that
   * long for the first one; pass a connection of its own then, since it is held meanwhile.
   */
  async readEvents(id: string, afterId: string, options: { count?: number; blockMs?: number; connection?: Redis } = {}): Promise<JobEvent[]> {
    // The job lifecycle checked every event against its schema when it wrote it.
    return (await readStream(this.redis, this.keys.events(id), afterId, options)) as unknown as JobEvent[];
  }
}

/** Index members sort by creation time: zero-padded epoch milliseconds, then the id. */
function indexMember(createdAt: Date, id: string): string {
  return `${String(createdAt.getTime()).padStart(15, '0')}:${id}`;
}
const encodeCursor = (member: string) => Buffer.from(member).toString('base64url');
function decodeCursor(cursor: string): string {
  const member = Buffer.from(cursor, 'base64url').toString();
  if (!/^\d{15}:[\w-]+$/.test(member)) throw new InvalidCursorError();
  return member;
}
export class InvalidCursorError extends Error {}

function toRecord(h: Record<string, string>, history: string[]): StoredJobRecord {
  const json = <T>(v: string | undefined): T | null => (v ? (JSON.parse(v) as T) : null);
  return {
    id: h.id!,
    name: h.name || null,
    status: h.status as JobStatus,
    spec: JSON.parse(h.spec!) as StoredSpec,
    cost: json<ModelCost>(h.cost),
    preprocessing: json<PreprocessingState>(h.preprocessing),
    createdAt: h.createdAt!,
    startedAt: h.startedAt || null,
    finishedAt: h.finishedAt || null,
    epoch: Number(h.epoch ?? 0),
    epochs: Number(h.epochs ?? 0),
    history: history.map((e) => JSON.parse(e) as EpochMetrics),
    backend: (h.backend || null) as StoredJobRecord['backend'],
    engine: json<EngineRun>(h.engine),
    versions: json<Record<string, string>>(h.versions),
    attempts: Number(h.attempts ?? 0),
    starts: Number(h.starts ?? 0),
    checkpointEpoch: h.checkpoint ? Number(h.checkpoint) : null,
    error: json<JobError>(h.error),
    experimentId: h.experimentId || null,
    trial: h.trial ? Number(h.trial) : null,
    stoppedBy: (h.stoppedBy as StoppedBy | undefined) || null,
    storedBytes: usageFrom(USAGE_NAMES.map((name) => h[name] ?? null)),
  };
}
