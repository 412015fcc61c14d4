import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { freePort, startRedisServer } from '../src/cli/redis-server.js';
import { JobStore } from '../src/store/job-store.js';
import { redisKeys } from '../src/store/keys.js';
import { createLogger } from '../src/shared/logger.js';
import type { JobRecord } from '../src/spec/index.js';
import { LocalArtifactStore } from '../src/storage/artifact-store.js';
import { sweepFinishedJobs } from '../workers/retention.js';
import { startWorker } from '../workers/worker-app.js';
import { epochsOf, eventsUntilEnd, readLive, startStack, submit, testConfig, xorSpec } from './helpers.js';

function filesContain(dir: string, needle: string): boolean {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .some((e) => readFileSync(join(e.parentPath, e.name), 'latin1').includes(needle));
}

describe('durability', () => {
  it('keeps a job acknowledged before a Redis kill -9 (append-only file), and workers reconnect by themselves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'descent-aof-'));
    const port = await freePort();
    let redis = await startRedisServer({ port, dir });
    const config = testConfig({ REDIS_URL: redis.url });
    const app = await buildApp(config, { logger: false });
    await app.ready();
    const worker = await startWorker(config, createLogger('silent', 'w'));
    try {
      await worker.close(); // no worker yet: the job must stay queued through the crash
      const id = await submit(app, xorSpec({ training: { epochs: 5 } }));
      // appendfsync everysec: wait until the write has reached the file, then crash.
      await expect.poll(() => filesContain(dir, id), { timeout: 5_000, interval: 50 }).toBe(true);
      await redis.crash();
      redis = await startRedisServer({ port, dir });
      await expect.poll(async () => (await app.inject(`/v1/jobs/${id}`)).statusCode, { timeout: 15_000, interval: 100 }).toBe(200);

      const again = await startWorker(config, createLogger('silent', 'w2'));
      try {
        expect((await eventsUntilEnd(app, id)).at(-1)!.event).toBe('completed');
        // Restart Redis under a running worker: it reconnects and takes the next job.
        await redis.stop();
        redis = await startRedisServer({ port, dir });
        await expect.poll(async () => (await app.inject('/healthz')).statusCode, { timeout: 15_000, interval: 100 }).toBe(200);
        const next = await submit(app, xorSpec({ training: { epochs: 5 } }));
        expect((await eventsUntilEnd(app, next)).at(-1)!.event).toBe('completed');
      } finally {
        await again.close();
      }
    } finally {
      await app.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('survives a forced stall: the job runs again elsewhere, the stale worker writes nothing more', async () => {
    const config = testConfig({ CHECKPOINT_MIN_INTERVAL_MS: '0', LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000' });
    const stack = await startStack({ config });
    const other = await startWorker(config, createLogger('silent', 'other'));
    try {
      const id = await submit(stack.app, { ...xorSpec(), dataset: { builtin: 'spirals', samples: 64 }, training: { epochs: 40, batchSize: 8, seed: 2 } });
      const base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
      await readLive(base, id, (e) => e.event === 'epoch' && e.data.epoch === 5);
      // As if the lock had expired under a frozen worker: BullMQ will hand the job out again.
      await stack.app.redis.del(redisKeys(config.REDIS_PREFIX).trainingLock(id));
      const events = await eventsUntilEnd(stack.app, id);
      expect(events.at(-1)!.event).toBe('completed');
      expect(epochsOf(events)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
      expect(record.attempts).toBeGreaterThanOrEqual(2);
      expect(events.filter((e) => e.event === 'completed')).toHaveLength(1);
    } finally {
      await other.close();
      await stack.close();
    }
  });

  it('a job BullMQ gives up on while the record says running gets its failed event (no attempt could write its records)', async () => {
    const config = testConfig({ JOB_ATTEMPTS: '1' });
    const stack = await startStack({ worker: false, config });
    try {
      // Queued before any worker runs, with a record the epoch script refuses for real: the
      // first epoch's write fails, as a write does when Redis is lost mid-training.
      const id = await submit(stack.app, xorSpec({ training: { epochs: 5, batchSize: 4 } }));
      await stack.app.redis.hset(redisKeys(config.REDIS_PREFIX).job(id), 'epoch', '-5');
      const again = await startWorker(config, createLogger('silent', 'w2'));
      try {
        const events = await eventsUntilEnd(stack.app, id);
        expect(events.at(-1)).toMatchObject({ event: 'failed', data: { status: 'failed', error: { code: 'worker_crashed' } } });
        expect(await stack.app.redis.hget(redisKeys(config.REDIS_PREFIX).job(id), 'status')).toBe('failed');
      } finally {
        await again.close();
      }
    } finally {
      await stack.close();
    }
  });

  it('closes open event streams when the API shuts down', async () => {
    const stack = await startStack({ worker: false });
    const id = await submit(stack.app, xorSpec());
    const base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${base}/v1/jobs/${id}/events`);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('event: status')) text += decoder.decode((await reader.read()).value, { stream: true });
    await stack.close();
    // The server ended the response: the client reads to a clean end (an aborted socket would
    // reject the read), and nothing terminal was sent: shutting down the API ends no job.
    let rest = '';
    let ended = false;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      rest += decoder.decode(value, { stream: true });
    }
    expect(ended).toBe(true);
    expect(rest).not.toMatch(/event: (completed|failed|cancelled)/);
    const again = await buildApp(stack.config, { logger: false });
    try {
      expect((await again.inject(`/v1/jobs/${id}`)).json<JobRecord>().status).toBe('queued');
    } finally {
      await again.close();
    }
  });

  it('deletes finished jobs past the retention policy, never queued ones', async () => {
    const stack = await startStack({ worker: false });
    try {
      const keys = redisKeys(stack.config.REDIS_PREFIX);
      const store = new JobStore(stack.app.redis, keys, 1000);
      const artifacts = new LocalArtifactStore(stack.config.DATA_DIR);
      const finished: string[] = [];
      for (let i = 0; i < 4; i++) {
        const id = await submit(stack.app, xorSpec());
        await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
        finished.push(id);
      }
      const queued = await submit(stack.app, xorSpec());
      const byCount = await sweepFinishedJobs(store, artifacts, { maxAgeMs: 0, maxCount: 2 });
      expect(byCount.sort()).toEqual(finished.slice(0, 2).sort());
      const byAge = await sweepFinishedJobs(store, artifacts, { maxAgeMs: 60_000, maxCount: 0 }, Date.now() + 120_000);
      expect(byAge.sort()).toEqual(finished.slice(2).sort());
      const left = (await stack.app.inject('/v1/jobs?limit=100')).json<{ items: JobRecord[] }>().items.map((j) => j.id);
      expect(left).toEqual([queued]);
    } finally {
      await stack.close();
    }
  });
});
