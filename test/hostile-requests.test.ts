import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonDepth } from '../src/shared/json-depth.js';
import { type Stack, eventsUntilEnd, expectHealthy, startStack, submit, xorSpec } from './helpers.js';

type ErrorBody = { error: { code: string; message: string; details?: unknown } };

const nested = (depth: number, leaf = '0') => `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;

/** Sends raw bytes over a socket and resolves with everything the server answers before it closes. */
async function rawRequest(baseUrl: string, text: string): Promise<string> {
  const { port } = new URL(baseUrl);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write(text);
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  await once(socket, 'close');
  return answer;
}

describe('jsonDepth', () => {
  it('measures nesting outside strings, linearly, and stops past the limit', () => {
    expect(jsonDepth('0')).toBe(0);
    expect(jsonDepth('{"a":[1,[2]],"b":{}}')).toBe(3);
    expect(jsonDepth('["[[[[", "\\"[[["]')).toBe(1);
    expect(jsonDepth(nested(1_000_000), 10)).toBe(11);
  });
});

describe('hostile requests get a 4xx and leave the service healthy', () => {
  let stack: Stack;
  let baseUrl: string;
  let trained: string;
  beforeAll(async () => {
    stack = await startStack();
    baseUrl = await stack.app.listen({ port: 0, host: '127.0.0.1' });
    trained = await submit(stack.app, xorSpec({ training: { epochs: 3, batchSize: 4, seed: 1 } }));
    expect((await eventsUntilEnd(stack.app, trained)).at(-1)!.event).toBe('completed');
  });
  afterAll(async () => stack.close());

  it.each([
    ['/v1/jobs', (deep: string) => `{"dataset":{"inline":{"x":${deep},"y":[[0]]}},"model":{"inputShape":[2],"layers":[{"type":"dense","units":1}]}}`, 2_000],
    [
      '/v1/models/summary',
      (deep: string) => `{"dataset":{"inline":{"x":${deep},"y":[[0]]}},"model":{"inputShape":[2],"layers":[{"type":"dense","units":1}]}}`,
      2_000,
    ],
    ['predict', (deep: string) => `{"inputs":${deep}}`, 100_000],
  ])('deeply nested JSON on %s is a 400 json_too_deep', async (route, body, depth) => {
    const url = route === 'predict' ? `/v1/jobs/${trained}/predict` : route;
    const res = await stack.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: body(nested(depth)) });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.code).toBe('json_too_deep');
    await expectHealthy(stack.app);
  });

  it.each([
    ['application/json', (deep: string) => `[[1, 2, "a"], [3, ${deep}, "b"]]`],
    ['application/x-ndjson', (deep: string) => `[1, 2, "a"]\n[3, ${deep}, "b"]\n`],
  ])('a %s upload with a cell nested 5,000 deep is a 400 naming the row', async (type, body) => {
    const res = await stack.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': type }, payload: body(nested(5_000)) });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.details).toMatchObject({ row: 2 });
    await expectHealthy(stack.app);
  });

  it('a Last-Event-ID beyond what Redis can hold is a 400, header or query', async () => {
    for (const headers of [{ 'last-event-id': '99999999999999999999-0' }, {}]) {
      const query = Object.keys(headers).length === 0 ? '?lastEventId=1-18446744073709551616' : '';
      const res = await stack.app.inject({ method: 'GET', url: `/v1/jobs/${trained}/events${query}`, headers });
      expect(res.statusCode).toBe(400);
      expect(res.json<ErrorBody>().error.code).toBe('invalid_event_id');
    }
    // The largest id Redis takes is valid: nothing follows it, and the finished job's stream ends.
    const last = await stack.app.inject({ method: 'GET', url: `/v1/jobs/${trained}/events`, headers: { 'last-event-id': '18446744073709551615-0' } });
    expect(last.statusCode).toBeLessThan(300);
    await expectHealthy(stack.app);
  });

  it('an id as long as the schema allows is routed (404); a longer one is a 414 in the error format', async () => {
    const allowed = await stack.app.inject(`/v1/jobs/${'a'.repeat(128)}`);
    expect(allowed.statusCode).toBe(404);
    expect(allowed.json<ErrorBody>().error.code).toBe('not_found');
    const tooLong = await fetch(`${baseUrl}/v1/jobs/${'a'.repeat(129)}`);
    expect(tooLong.status).toBe(414);
    expect(((await tooLong.json()) as ErrorBody).error.code).toBe('uri_too_long');
    await expectHealthy(stack.app);
  });

  it('oversized headers are a 431 in the error format', async () => {
    const answer = await rawRequest(baseUrl, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect((JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as ErrorBody).error.code).toBe('headers_too_large');
    await expectHealthy(stack.app);
  });

  it('bad JSON, an unsupported content type and a malformed request line answer in the error format', async () => {
    const bad = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/json' }, payload: '{"dataset":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<ErrorBody>().error.code).toBe('invalid_json');
    const xml = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/xml' }, payload: '<job/>' });
    expect(xml.statusCode).toBe(415);
    expect(xml.json<ErrorBody>().error.code).toBe('unsupported_media_type');
    const garbage = await rawRequest(baseUrl, 'BLAH\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect((JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4)) as ErrorBody).error.code).toBe('bad_request');
    await expectHealthy(stack.app);
  });

  it('an action endpoint takes content-type: application/json with no body', async () => {
    const res = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${trained}/cancel`, headers: { 'content-type': 'application/json' } });
    // A completed job cannot be cancelled: the 409 shows the request itself was read.
    expect(res.statusCode).toBe(409);
    expect(res.json<ErrorBody>().error.code).toBe('job_finished');
    const noSpec = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'content-type': 'application/json' } });
    expect(noSpec.statusCode).toBe(400);
    expect(noSpec.json<ErrorBody>().error.code).toBe('invalid_spec');
    await expectHealthy(stack.app);
  });

  it('inline values float32 cannot hold are refused like uploads', async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: xorSpec({
        dataset: {
          inline: {
            x: [
              [0, 0],
              [1, 1e39],
            ],
            y: [[0], [1]],
          },
        },
      }),
    });
    expect(res.statusCode).toBe(400);
    const details = res.json<ErrorBody>().error.details as { path: unknown[]; message: string }[];
    expect(details.map((d) => d.path)).toContainEqual(['dataset', 'inline', 'x', 1]);
    await expectHealthy(stack.app);
  });

  it('predict with 1e308 is a 400, not null outputs', async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: `/v1/jobs/${trained}/predict`,
      payload: {
        inputs: [
          [0, 1],
          [1e308, 0],
        ],
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.code).toBe('invalid_inputs');
    expect(res.json<{ error: { details: { path: unknown[] }[] } }>().error.details.map((d) => d.path)).toEqual([['inputs', 1]]);
    const ok = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${trained}/predict`, payload: { inputs: [[0, 1]] } });
    expect(ok.statusCode).toBe(200);
    await expectHealthy(stack.app);
  });
});
