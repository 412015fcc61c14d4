import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, testConfig, xorSpec } from './helpers.js';

const csv = 'a,b,label\n1,2,x\n3,4,y\n';

describe('host and cross-site checks, security headers (real app on loopback)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack.close());

  it('refuses a Host outside ALLOWED_HOSTS (DNS rebinding) with 400', async () => {
    const res = await stack.app.inject({ url: '/v1/jobs', headers: { host: 'attacker.example:3000' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toEqual({ code: 'host_not_allowed', message: 'the Host "attacker.example" is not one this API answers (ALLOWED_HOSTS)' });
    for (const host of ['localhost:3000', '127.0.0.1:3000', '[::1]:3000']) {
      expect((await stack.app.inject({ url: '/v1/jobs', headers: { host } })).statusCode).toBe(200);
    }
  });

  it('refuses a write from another origin, whatever its content type, with 403', async () => {
    const upload = await stack.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      headers: { origin: 'http://evil.example', 'content-type': 'text/plain' },
      payload: csv,
    });
    expect(upload.statusCode).toBe(403);
    expect(upload.json().error).toEqual({
      code: 'cross_site_request',
      message: 'a write from the origin "http://evil.example" is refused: only this API\'s own pages (and CORS_ORIGINS) may change anything',
    });
    const job = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: { origin: 'null' }, payload: xorSpec() });
    expect(job.statusCode).toBe(403);
    expect((await stack.app.inject({ method: 'GET', url: '/v1/datasets' })).json<{ items: unknown[] }>().items).toEqual([]);
  });

  it("refuses a browser's form-type write even from its own origin with 415, and takes JSON and upload types", async () => {
    const own = { origin: 'http://localhost:80', host: 'localhost:80' };
    const plain = await stack.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...own, 'content-type': 'text/plain' }, payload: csv });
    expect(plain.statusCode).toBe(415);
    expect(plain.json().error).toEqual({
      code: 'unsupported_media_type',
      message:
        "a browser write with content type text/plain is refused (a form could send it from any site): send application/json, or an upload's own type such as text/csv",
    });
    const form = await stack.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { ...own, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'a=1',
    });
    expect(form.statusCode).toBe(415);
    const upload = await stack.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...own, 'content-type': 'text/csv' }, payload: csv });
    expect(upload.statusCode).toBe(201);
    // Without an Origin (curl, scripts) text/plain stays an accepted CSV upload.
    const script = await stack.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/plain' }, payload: csv });
    expect(script.statusCode).toBe(201);
  });

  it('sends security headers', async () => {
    const res = await stack.app.inject('/v1/optimizers');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });
});

describe('rate limits per key, shared through Redis by every API process', () => {
  it('answers 429 with Retry-After once a key spends its window, across two API processes, while another key goes on', async () => {
    const config = testConfig({ AUTH: 'required', RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '60000' });
    const one = await startStack({ worker: false, config });
    const two = await startStack({ worker: false, config });
    try {
      const a = (await one.app.apiKeys.create({ tenant: 'a', scope: 'read' })).key;
      const b = (await one.app.apiKeys.create({ tenant: 'b', scope: 'read' })).key;
      const get = (stack: Stack, key: string) => stack.app.inject({ url: '/v1/jobs', headers: { authorization: `Bearer ${key}` } });
      const codes = [];
      for (let i = 0; i < 6; i++) codes.push((await get(i % 2 === 0 ? one : two, a)).statusCode);
      expect(codes).toEqual([200, 200, 200, 200, 200, 429]);
      const limited = await get(two, a);
      expect(limited.statusCode).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.json().error.code).toBe('rate_limited');
      expect(limited.json().error.message).toMatch(/^rate limit exceeded: at most 5 requests per 60 s; retry in (\d+ seconds?|1 minute)$/);
      expect((await get(one, b)).statusCode).toBe(200);
      expect((await one.app.inject('/healthz')).statusCode).not.toBe(429);
    } finally {
      await one.close();
      await two.close();
    }
  });
});
