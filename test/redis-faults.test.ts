import { describe, expect, it } from 'vitest';
import { startOutageStack, xorSpec } from './helpers.js';

describe('Redis outage', () => {
  it('answers 503 while Redis is down, never hangs, and recovers by itself with the data intact', async () => {
    const stack = await startOutageStack();
    const { app } = stack;
    try {
      const post = await app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec() });
      expect(post.statusCode).toBe(202);
      const id = post.json<{ id: string }>().id;

      await stack.stopRedis();
      for (const [method, url, payload] of [
        ['GET', `/v1/jobs/${id}`],
        ['GET', '/v1/jobs'],
        ['POST', '/v1/jobs', xorSpec()],
        ['POST', `/v1/jobs/${id}/cancel`],
        ['GET', '/healthz'],
      ] as const) {
        const res = await app.inject({ method, url, ...(payload ? { payload } : {}) });
        expect(res.statusCode, `${method} ${url}`).toBe(503);
        expect(res.json<{ error: { code: string } }>().error.code).toBe('redis_unavailable');
      }

      // Same port, same directory: the append-only file brings the job back.
      await stack.startRedis();
      await expect.poll(async () => (await app.inject(`/v1/jobs/${id}`)).statusCode, { timeout: 15_000, interval: 100 }).toBe(200);
      expect((await app.inject(`/v1/jobs/${id}`)).json<{ status: string }>().status).toBe('queued');
      expect((await app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec() })).statusCode).toBe(202);
    } finally {
      await stack.close();
    }
  });
});
