import type { Redis } from 'ioredis';
import type { JobStore } from '../src/store/job-store.js';
import type { RedisKeys } from '../src/store/keys.js';
import { isTerminal } from '../src/spec/index.js';
import type { ArtifactStore } from '../src/storage/artifact-store.js';
import { jobArtifacts } from '../src/storage/artifact-keys.js';

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
