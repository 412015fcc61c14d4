import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type Stack, eventsUntilEnd, startStack, submit, testConfig, xorSpec } from './helpers.js';

const ALLOWED = 'http://app.example.test:8080';
const OTHER = 'http://evil.example.test';

describe('the API on the web: CORS, discovery, dashboard, SSE endings', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ config: testConfig({ CORS_ORIGINS: `${ALLOWED}, http://second.example.test` }) });
  });
  afterAll(async () => stack.close());

  it('answers a JSON POST preflight from an allowed origin, echoing that origin', async () => {
    const res = await stack.app.inject({
      method: 'OPTIONS',
      url: '/v1/jobs',
      headers: { origin: ALLOWED, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(String(res.headers['access-control-allow-methods'])).toContain('POST');
    expect(String(res.headers['access-control-allow-headers'])).toContain('authorization');
    expect(String(res.headers.vary)).toMatch(/origin/i);
  });

  it('refuses a preflight from another origin with 403 and gives its requests no CORS headers', async () => {
    const preflight = await stack.app.inject({
      method: 'OPTIONS',
      url: '/v1/jobs',
      headers: { origin: OTHER, 'access-control-request-method': 'POST' },
    });
    expect(preflight.statusCode).toBe(403);
    expect(preflight.json().error.code).toBe('origin_not_allowed');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const get = await stack.app.inject({ method: 'GET', url: '/v1/optimizers', headers: { origin: OTHER } });
    expect(get.statusCode).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sends CORS headers on the event stream and the model files for an allowed origin', async () => {
    const id = await submit(stack.app, xorSpec({ training: { epochs: 3, batchSize: 4, seed: 1 } }));
    const events = await stack.app.inject({ method: 'GET', url: `/v1/jobs/${id}/events`, headers: { origin: ALLOWED } });
    expect(events.statusCode).toBe(200);
    expect(events.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(events.body).toContain('event: completed');
    for (const url of [`/v1/jobs/${id}/model`, `/v1/jobs/${id}/model/weights.bin`]) {
      const res = await stack.app.inject({ method: 'GET', url, headers: { origin: ALLOWED } });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['access-control-allow-origin'], url).toBe(ALLOWED);
    }
  });

  it('answers 204 to a reconnect after the terminal event, so EventSource stops', async () => {
    const id = await submit(stack.app, xorSpec({ training: { epochs: 2, batchSize: 4, seed: 1 } }));
    const all = await eventsUntilEnd(stack.app, id);
    const terminal = all.at(-1)!;
    expect(terminal.event).toBe('completed');
    const again = await stack.app.inject({ method: 'GET', url: `/v1/jobs/${id}/events`, headers: { 'last-event-id': terminal.id } });
    expect(again.statusCode).toBe(204);
    expect(again.body).toBe('');
    // Resuming before the end still replays what follows, terminal event included.
    const rest = await eventsUntilEnd(stack.app, id, all.at(-2)!.id);
    expect(rest.map((e) => e.id)).toEqual([terminal.id]);
    const fromQuery = await stack.app.inject({ method: 'GET', url: `/v1/jobs/${id}/events?lastEventId=${terminal.id}` });
    expect(fromQuery.statusCode).toBe(204);
  });

  it('serves the OpenAPI document as JSON and YAML, equal to the committed openapi.yaml', async () => {
    const committed = parseYaml(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8'));
    const json = await stack.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(json.headers['content-type']).toContain('application/json');
    expect(json.json()).toEqual(committed);
    const yaml = await stack.app.inject({ method: 'GET', url: '/openapi.yaml' });
    expect(yaml.headers['content-type']).toContain('application/yaml');
    expect(parseYaml(yaml.body)).toEqual(committed);
  });

  it('serves the API reference at /docs with every asset local', async () => {
    const page = await stack.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect(asset, 'no asset from another host').not.toMatch(/^(https?:)?\/\//);
      const res = await stack.app.inject({ method: 'GET', url: new URL(asset, 'http://x/docs/').pathname });
      expect(res.statusCode, asset).toBe(200);
    }
  });

  it('serves the dashboard at / to browsers and a JSON index of the API to JSON clients', async () => {
    const html = await stack.app.inject({ method: 'GET', url: '/', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toContain('text/html');
    expect(html.body).toContain('<title>Descent');
    const index = await stack.app.inject({ method: 'GET', url: '/', headers: { accept: 'application/json' } });
    expect(index.headers['content-type']).toContain('application/json');
    const body = index.json<{ links: Record<string, string>; endpoints: { method: string; path: string }[] }>();
    expect(body.links).toMatchObject({ docs: '/docs', openapi: '/openapi.json', openapiYaml: '/openapi.yaml' });
    const committed = parseYaml(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')) as { paths: Record<string, object> };
    const listed = new Set(body.endpoints.map((e) => `${e.method} ${e.path}`));
    for (const [path, ops] of Object.entries(committed.paths)) {
      for (const method of Object.keys(ops)) expect(listed, `${method} ${path}`).toContain(`${method.toUpperCase()} ${path}`);
    }
  });
});

describe('CORS_ORIGINS', () => {
  it('defaults to no cross-origin access', async () => {
    const stack = await startStack({ worker: false, config: testConfig() });
    try {
      const res = await stack.app.inject({ method: 'OPTIONS', url: '/v1/jobs', headers: { origin: ALLOWED, 'access-control-request-method': 'POST' } });
      expect(res.statusCode).toBe(403);
      const get = await stack.app.inject({ method: 'GET', url: '/healthz', headers: { origin: ALLOWED } });
      expect(get.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await stack.close();
    }
  });

  it('refuses a value that is not a list of origins', () => {
    expect(() => testConfig({ CORS_ORIGINS: 'example.com' })).toThrow(/CORS_ORIGINS/);
    expect(() => testConfig({ CORS_ORIGINS: 'http://a.test/path' })).toThrow(/CORS_ORIGINS/);
    expect(testConfig({ CORS_ORIGINS: '*' }).CORS_ORIGINS).toBe('*');
  });
});
