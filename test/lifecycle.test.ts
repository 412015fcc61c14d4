import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { freePort, startRedisServer } from '../src/cli/redis-server.js';
import { assertNoEviction, RedisPolicyError } from '../src/store/redis.js';
import { createLogger } from '../src/shared/logger.js';
import type { JobRecord } from '../src/spec/index.js';
import { startWorker } from '../workers/worker-app.js';
import { eventsUntilEnd, startStack, submit, testConfig, xorSpec } from './helpers.js';

describe('job lifecycle without and with workers', () => {
  it('cancels a queued job; a worker that starts later skips it and trains the next one', async () => {
    const stack = await startStack({ worker: false });
    try {
      const cancelled = await submit(stack.app, xorSpec());
      const res = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${cancelled}/cancel` });
      expect(res.json<JobRecord>().status).toBe('cancelled');
      const events = await eventsUntilEnd(stack.app, cancelled);
      expect(events.map((e) => e.event)).toEqual(['status', 'status', 'cancelled']);

      const next = await submit(stack.app, xorSpec({ training: { epochs: 5, batchSize: 4, seed: 1 } }));
      const worker = await startWorker(stack.config, createLogger('warn', 'late-worker'));
      try {
        const nextEvents = await eventsUntilEnd(stack.app, next);
        expect(nextEvents.at(-1)!.event).toBe('completed');
        const record = (await stack.app.inject(`/v1/jobs/${cancelled}`)).json<JobRecord>();
        expect(record.status).toBe('cancelled');
        expect(record.attempts).toBe(0);
      } finally {
        await worker.close();
      }
    } finally {
      await stack.close();
    }
  });

  it('queues jobs while no worker runs, and health says there is none', async () => {
    const stack = await startStack({ worker: false });
    try {
      const health = (await stack.app.inject('/healthz')).json<{ backend: string | null; workers: unknown[] }>();
      expect(health.workers).toEqual([]);
      expect(health.backend).toBeNull();
      const id = await submit(stack.app, xorSpec());
      expect((await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>().status).toBe('queued');
    } finally {
      await stack.close();
    }
  });
});

describe('Redis policy', () => {
  it('refuses a Redis that may evict keys, and accepts noeviction', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'descent-policy-'));
    const server = await startRedisServer({ port: await freePort(), dir, appendOnly: false });
    const redis = new Redis(server.url);
    try {
      await assertNoEviction(redis);
      await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await expect(assertNoEviction(redis)).rejects.toBeInstanceOf(RedisPolicyError);
      await expect(startWorker(testConfig({ REDIS_URL: server.url }), createLogger('silent', 'w'))).rejects.toThrow(/noeviction/);
    } finally {
      redis.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
