import type { Redis } from 'ioredis';
import type { DatasetStore } from '../src/store/dataset-store.js';
import type { ExperimentStore } from '../src/store/experiment-store.js';
import type { JobStore } from '../src/store/job-store.js';
import type { RedisKeys } from '../src/store/keys.js';
import { isTerminal } from '../src/spec/index.js';
import type { ArtifactStore } from '../src/storage/artifact-store.js';
import { ARTIFACT_OWNERS, type ArtifactOwnerKind, jobArtifacts, ownerArtifacts } from '../src/storage/artifact-keys.js';

export interface RetentionPolicy {
  /** Finished jobs older than this are deleted (0: no age limit). */
  maxAgeMs: number;
  /** At most this many finished jobs are kept, the newest (0: no count limit). */
  maxCount: number;
}

/**
 * Deletes finished jobs (record, events, artifacts) past the retention policy. Queued and
 * running jobs are never touched. Returns the ids it deleted.
 */
export async function sweepFinishedJobs(store: JobStore, artifacts: ArtifactStore, policy: RetentionPolicy, now = Date.now()): Promise<string[]> {
  const deleted: string[] = [];
  let kept = 0;
  let cursor: string | undefined;
  do {
    const page = await store.list({ limit: 200, ...(cursor ? { cursor } : {}) });
    for (const job of page.items) {
      if (!isTerminal(job.status)) continue;
      const finished = Date.parse(job.finishedAt ?? job.createdAt);
      const tooOld = policy.maxAgeMs > 0 && now - finished > policy.maxAgeMs;
      const tooMany = policy.maxCount > 0 && kept >= policy.maxCount;
      if (tooOld || tooMany) {
        await store.remove(job.id);
        await artifacts.delete(jobArtifacts(job.id));
        deleted.push(job.id);
      } else {
        kept++;
      }
    }
    cursor = page.next ?? undefined;
  } while (cursor);
  return deleted;
}

const ORPHAN_LOOKUP_BATCH = 200;

/** Whether the record that owns artifacts exists, per kind of owner. */
export type OwnerRecords = Record<ArtifactOwnerKind, (id: string) => Promise<boolean>>;

/** The owners' records in Redis. */
export function ownerRecords(stores: {
  jobs: Pick<JobStore, 'exists'>;
  experiments: Pick<ExperimentStore, 'tenantOf'>;
  datasets: Pick<DatasetStore, 'exists'>;
}): OwnerRecords {
  return {
    job: (id) => stores.jobs.exists(id),
    experiment: async (id) => (await stores.experiments.tenantOf(id)) !== undefined,
    dataset: (id) => stores.datasets.exists(id),
  };
}

/**
 * Deletes what the artifact store holds for jobs, experiments and uploaded datasets that have no
 * record: a process killed between storing an owner's files and writing its record (or a worker
 * still writing after its job was deleted) leaves them. Files newer than `graceMs` are spared, as
 * their record may be on its way (every writer stores first and records within moments); the record
 * is looked up again after the files' ages, so an owner is deleted only when it had no record at a
 * moment its newest file was already `graceMs` old. Returns the owner folders it deleted.
 */
export async function sweepOrphanedArtifacts(artifacts: ArtifactStore, records: OwnerRecords, graceMs: number, now = Date.now()): Promise<string[]> {
  const deleted: string[] = [];
  for (const kind of Object.keys(ARTIFACT_OWNERS) as ArtifactOwnerKind[]) {
    const byOwner = new Map<string, string[]>();
    for (const key of await artifacts.list(ARTIFACT_OWNERS[kind])) {
      const id = key.split('/')[1]!;
      if (byOwner.has(id)) byOwner.get(id)!.push(key);
      else byOwner.set(id, [key]);
    }
    // Most owners have their record: look them up a batch at a time (sent together), then age only the rest.
    const ids = [...byOwner.keys()];
    const unowned: string[] = [];
    for (let i = 0; i < ids.length; i += ORPHAN_LOOKUP_BATCH) {
      const batch = ids.slice(i, i + ORPHAN_LOOKUP_BATCH);
      const found = await Promise.all(batch.map((id) => records[kind](id)));
      unowned.push(...batch.filter((_, j) => !found[j]));
    }
    for (const id of unowned) {
      const infos = await Promise.all(byOwner.get(id)!.map((key) => artifacts.stat(key)));
      if (infos.some((info) => info && now - info.modifiedAt < graceMs)) continue;
      if (await records[kind](id)) continue;
      await artifacts.delete(ownerArtifacts(kind, id));
      deleted.push(ownerArtifacts(kind, id));
    }
  }
  return deleted;
}

/** Runs the sweep every `intervalMs` in one worker at a time (a Redis lock elects it). */
export function scheduleRetention(redis: Redis, keys: RedisKeys, run: () => Promise<unknown>, intervalMs: number, onError: (err: unknown) => void): () => void {
  const tick = async () => {
    const lock = await redis.set(`${keys.jobIndex}:retention-lock`, '1', 'PX', Math.max(intervalMs - 1_000, 1_000), 'NX');
    if (lock) await run();
  };
  const timer = setInterval(() => tick().catch(onError), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
