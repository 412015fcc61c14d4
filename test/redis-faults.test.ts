import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { freePort, startRedisServer } from '../src/cli/redis-server.js';
import { testConfig, xorSpec } from './helpers.js';

describe('Redis outage', () => {
  it('answers 503 while Redis is down, never hangs, and recovers by itself with the data intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'descent-outage-'));
    const port = await freePort();
    let redis = await startRedisServer({ port, dir });
    const app = await buildApp(testConfig({ REDIS_URL: redis.url }), { logger: false });
    await app.ready();
    try {
      const post = await app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec() });
      expect(post.statusCode).toBe(202);
      const id = post.json<{ id: string }>().id;

      await redis.stop();
      for (const [method, url, payload] of [
        ['GET', `/v1/jobs/${id}`],
        ['GET', '/v1/jobs'],
        ['POST', '/v1/jobs', xorSpec()],
        ['POST', `/v1/jobs/${id}/cancel`],
        ['GET', '/healthz'],
      ] as const) {
        const res = await app.inject({ method, url, ...(payload ? { payload } : {}) });
        expect(res.statusCode, `${method} ${url}`).toBe(503);
        expect(res.json<{ error: { code: string } }>().error.code).toMatch(/unavailable/);
      }

      // Same port, same directory: the append-only file brings the job back.
      redis = await startRedisServer({ port, dir });
      await expect.poll(async () => (await app.inject(`/v1/jobs/${id}`)).statusCode, { timeout: 15_000, interval: 100 }).toBe(200);
      expect((await app.inject(`/v1/jobs/${id}`)).json<{ status: string }>().status).toBe('queued');
      expect((await app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec() })).statusCode).toBe(202);
    } finally {
      await app.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
