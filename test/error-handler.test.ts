import type { FastifyInstance } from 'fastify';
import { Redis, ReplyError } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { errorResponseSchema } from '../src/api/schemas.js';
import { isRedisOutage } from '../src/store/redis.js';
import { startOutageStack, testConfig, xorSpec } from './helpers.js';

/** The error body every status shares: `{"error": {"code", "message", "details"?}}` and nothing else. */
function errorBody(res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  const body = res.json() as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).every((k) => ['code', 'message', 'details'].includes(k))).toBe(true);
  const parsed = errorResponseSchema.parse(body);
  expect(parsed.error.code).toBe(code);
  expect(parsed.error.message.length).toBeGreaterThan(0);
  return parsed.error;
}

describe('error handler: every failure in one error format, through the real app', () => {
  let app: FastifyInstance;
  const logs: { level: number; reqId?: string; msg: string; err?: { message: string; stack?: string } }[] = [];

  beforeAll(async () => {
    const config = testConfig({ BODY_LIMIT_BYTES: '2048', MAX_EPOCHS: '50' });
    app = await buildApp(config, { logger: { level: 'info', stream: { write: (line) => void logs.push(JSON.parse(line) as (typeof logs)[number]) } } });
    // A route with a fault of the service itself: what a bug anywhere behind a route looks like.
    app.get('/test/fault', async () => {
      throw new Error('the disk at /secret/path is on fire');
    });
    await app.ready();
  });
  afterAll(async () => app.close());

  it('400: an invalid spec lists every offending path in details', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec({ training: { epochs: -1, batchSize: 0 } }) });
    const error = errorBody(res, 400, 'invalid_spec');
    const paths = (error.details as { path: (string | number)[] }[]).map((d) => d.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['training.epochs', 'training.batchSize']));
  });

  it('400: a body that is not JSON', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/json' }, payload: '{"name": ' });
    errorBody(res, 400, 'invalid_json');
  });

  it('404: an unknown job and an unknown route', async () => {
    errorBody(await app.inject('/v1/jobs/no-such-job'), 404, 'not_found');
    errorBody(await app.inject('/v1/no-such-thing'), 404, 'not_found');
  });

  it('409: the model of a job that has not completed (no worker runs here, so it stays queued)', async () => {
    const submitted = await app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec({ training: { epochs: 10, batchSize: 4 } }) });
    expect(submitted.statusCode).toBe(202);
    const id = submitted.json<{ id: string }>().id;
    errorBody(await app.inject(`/v1/jobs/${id}/model`), 409, 'job_not_completed');
    errorBody(await app.inject(`/v1/jobs/${id}/model/weights.bin`), 409, 'job_not_completed');
  });

  it('400 and 414: a URL the router cannot read, or a path parameter over its length limit', async () => {
    errorBody(await app.inject('/v1/jobs/%E0%A4%A'), 400, 'bad_request');
    errorBody(await app.inject(`/v1/jobs/${'a'.repeat(200)}`), 414, 'bad_request');
  });

  it('413: a body over BODY_LIMIT_BYTES', async () => {
    const x = Array.from({ length: 400 }, (_, i) => [i, i + 1]);
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec({ dataset: { inline: { x, y: x.map(() => [0]) } } }) });
    errorBody(res, 413, 'body_too_large');
  });

  it('415: a job spec that is not JSON', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/xml' }, payload: '<job>xor</job>' });
    errorBody(res, 415, 'unsupported_media_type');
  });

  it('422: a spec over a configured limit names the limit', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec({ training: { epochs: 51, batchSize: 4 } }) });
    const error = errorBody(res, 422, 'limit_exceeded');
    expect(error.details).toEqual([expect.objectContaining({ limit: 'MAX_EPOCHS', path: ['training', 'epochs'], value: 51, max: 50 })]);
  });

  it('500: a generic body naming the request id; the fault is logged with that id', async () => {
    const res = await app.inject({ url: '/test/fault', headers: { 'x-request-id': 'req-fault-1' } });
    const error = errorBody(res, 500, 'internal');
    expect(error.message).toContain('req-fault-1');
    expect(error.message).not.toContain('disk');
    expect(error.details).toBeUndefined();
    const logged = logs.find((l) => l.level === 50 && l.reqId === 'req-fault-1');
    expect(logged?.err?.message).toBe('the disk at /secret/path is on fire');
    expect(logged?.err?.stack).toContain('error-handler.test.ts');
  });
});

describe('error handler: Redis unreachable', () => {
  it('503 with redis_unavailable, told by the connection state and error class, not by the message', async () => {
    const stack = await startOutageStack();
    const { app } = stack;
    try {
      await stack.stopRedis();
      errorBody(await app.inject('/v1/jobs/some-job'), 503, 'redis_unavailable');
      errorBody(await app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec() }), 503, 'redis_unavailable');
      errorBody(await app.inject('/healthz'), 503, 'redis_unavailable');
      // A bug while Redis is down is still a bug, and Redis answering with an error is no outage.
      expect(isRedisOutage(new TypeError('x is undefined'), app.redisConnections)).toBe(false);
      expect(isRedisOutage(new ReplyError('WRONGTYPE'), app.redisConnections)).toBe(false);
      expect(isRedisOutage(new Error('any text'), app.redisConnections)).toBe(true);
      await stack.startRedis();
      await expect.poll(async () => (await app.inject('/v1/jobs/some-job')).statusCode, { timeout: 15_000, interval: 100 }).toBe(404);
    } finally {
      await stack.close();
    }
  });

  it('a plain error on a ready connection is a fault, not an outage', async () => {
    const redis = new Redis(testConfig().REDIS_URL);
    try {
      await redis.ping();
      expect(isRedisOutage(new Error('any text'), [redis])).toBe(false);
      expect(isRedisOutage(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }), [redis])).toBe(true);
    } finally {
      redis.disconnect();
    }
  });
});
