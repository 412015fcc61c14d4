import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, testConfig, xorSpec } from './helpers.js';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('API keys (AUTH=required, real Redis)', () => {
  let stack: Stack;
  let admin: string;
  let writer: string;
  let reader: string;

  beforeAll(async () => {
    stack = await startStack({ worker: false, config: testConfig({ AUTH: 'required' }) });
    admin = (await stack.app.apiKeys.create({ tenant: 'ops', scope: 'admin' })).key;
    writer = (await stack.app.apiKeys.create({ tenant: 'team-a', scope: 'write' })).key;
    reader = (await stack.app.apiKeys.create({ tenant: 'team-a', scope: 'read' })).key;
  });
  afterAll(() => stack.close());

  it('answers 401 without a key or with a wrong one, and keeps the probe open', async () => {
    const none = await stack.app.inject('/v1/jobs');
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Bearer');
    expect(none.json().error).toMatchObject({ code: 'unauthorized', message: 'this route needs an API key: send Authorization: Bearer <key>' });
    const forged = `${writer.slice(0, -4)}AAAA`;
    for (const key of [forged, 'dsk_0000000000000000_' + 'A'.repeat(43), 'nonsense']) {
      const res = await stack.app.inject({ url: '/v1/jobs', headers: bearer(key) });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.message).toBe('the API key is not valid (malformed, unknown or revoked)');
    }
    expect((await stack.app.inject('/healthz')).statusCode).not.toBe(401);
  });

  it('stores only a hash of the key', async () => {
    // dsk_<16 hex id>_<secret>: the secret's base64url may itself hold '_'.
    const [id, secret] = [writer.slice(4, 20), writer.slice(21)];
    const stored = await stack.app.redis.hgetall(`${stack.config.REDIS_PREFIX}:api-key:${id}`);
    expect(stored.tenant).toBe('team-a');
    expect(JSON.stringify(stored)).not.toContain(secret);
  });

  it('checks scopes: read keys read, write keys submit, only admin keys manage keys', async () => {
    const submitAsReader = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: bearer(reader), payload: xorSpec() });
    expect(submitAsReader.statusCode).toBe(403);
    expect(submitAsReader.json().error).toMatchObject({ code: 'insufficient_scope', message: 'this route needs a key with scope write; this key has read' });
    const submitted = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: bearer(writer), payload: xorSpec() });
    expect(submitted.statusCode).toBe(202);
    expect((await stack.app.inject({ url: `/v1/jobs/${submitted.json().id}`, headers: bearer(reader) })).statusCode).toBe(200);
    expect((await stack.app.inject({ url: '/v1/admin/keys', headers: bearer(writer) })).statusCode).toBe(403);

    const created = await stack.app.inject({ method: 'POST', url: '/v1/admin/keys', headers: bearer(admin), payload: { tenant: 'team-c', scope: 'read' } });
    expect(created.statusCode).toBe(201);
    const { id, key } = created.json<{ id: string; key: string }>();
    expect((await stack.app.inject({ url: '/v1/jobs', headers: bearer(key) })).statusCode).toBe(200);
    const listed = (await stack.app.inject({ url: '/v1/admin/keys', headers: bearer(admin) })).json<{ items: { id: string }[] }>();
    expect(listed.items.map((k) => k.id)).toContain(id);
    expect(JSON.stringify(listed)).not.toContain(key.slice(21));
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/admin/keys/${id}`, headers: bearer(admin) })).statusCode).toBe(204);
    expect((await stack.app.inject({ url: '/v1/jobs', headers: bearer(key) })).statusCode).toBe(401);
  });

  it('signs a browser in with an HttpOnly SameSite=Strict cookie whose writes need the CSRF token', async () => {
    const login = await stack.app.inject({ method: 'POST', url: '/v1/session', payload: { key: writer } });
    expect(login.statusCode).toBe(201);
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(/^descent_session=[^;]+;/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    const cookie = setCookie.split(';')[0]!;
    const { csrfToken, tenant } = login.json<{ csrfToken: string; tenant: string }>();
    expect(tenant).toBe('team-a');

    // Reads (EventSource included) need only the cookie.
    expect((await stack.app.inject({ url: '/v1/jobs', headers: { cookie } })).statusCode).toBe(200);
    const noToken = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: { cookie }, payload: xorSpec() });
    expect(noToken.statusCode).toBe(403);
    expect(noToken.json().error).toMatchObject({
      code: 'csrf_token_invalid',
      message: "a write with the session cookie needs the session's token in x-csrf-token",
    });
    const withToken = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: { cookie, 'x-csrf-token': csrfToken }, payload: xorSpec() });
    expect(withToken.statusCode).toBe(202);

    const bad = await stack.app.inject({ method: 'POST', url: '/v1/session', payload: { key: 'dsk_nope' } });
    expect(bad.statusCode).toBe(401);
    expect((await stack.app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie } })).statusCode).toBe(403);
    expect((await stack.app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie, 'x-csrf-token': csrfToken } })).statusCode).toBe(204);
    expect((await stack.app.inject({ url: '/v1/jobs', headers: { cookie } })).statusCode).toBe(401);
  });

  it('keeps tenants apart: another tenant gets 404 and lists only its own', async () => {
    const other = (await stack.app.apiKeys.create({ tenant: 'team-b', scope: 'write' })).key;
    const id = (await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: bearer(writer), payload: xorSpec({ name: 'a-only' }) })).json<{
      id: string;
    }>().id;
    const res = await stack.app.inject({ url: `/v1/jobs/${id}`, headers: bearer(other) });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.message).toBe(`job ${JSON.stringify(id)} does not exist`);
    const cancel = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: bearer(other) });
    expect(cancel.statusCode).toBe(404);
    const theirs = (await stack.app.inject({ url: '/v1/jobs', headers: bearer(other) })).json<{ items: { id: string }[] }>();
    expect(theirs.items).toEqual([]);
    const ours = (await stack.app.inject({ url: '/v1/jobs', headers: bearer(writer) })).json<{ items: { id: string }[] }>();
    expect(ours.items.map((j) => j.id)).toContain(id);
    const all = (await stack.app.inject({ url: '/v1/jobs?limit=100', headers: bearer(admin) })).json<{ items: { id: string }[] }>();
    expect(all.items.map((j) => j.id)).toContain(id);
    expect((await stack.app.inject({ url: `/v1/jobs/${id}`, headers: bearer(admin) })).statusCode).toBe(200);
  });
});
