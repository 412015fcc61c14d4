import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, submit, testConfig, xorSpec } from './helpers.js';

describe('event stream connections', () => {
  let stack: Stack;
  let baseUrl: string;
  beforeAll(async () => {
    // No worker: jobs stay queued, so streams stay open and idle.
    stack = await startStack({ worker: false, config: testConfig({ SSE_HEARTBEAT_MS: '200' }) });
    baseUrl = await stack.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => stack.close());

  it('sends a comment line while nothing happens', async () => {
    const id = await submit(stack.app, xorSpec());
    const controller = new AbortController();
    const res = await fetch(`${baseUrl}/v1/jobs/${id}/events`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!/\n: keepalive\n/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();
    expect(text).toContain('event: status');
    expect(text).toMatch(/\n: keepalive\n/);
  });

  it('serves every open stream through one Redis connection per API process', async () => {
    const jobs = [await submit(stack.app, xorSpec()), await submit(stack.app, xorSpec())];
    const live = () => stack.app.events.live;
    // Connections of this API's event hub: other test files share the Redis, so count by name.
    const hubConnections = async () =>
      ((await stack.app.redis.client('LIST')) as string).split('\n').filter((l) => l.includes(` name=${live().connectionName} `)).length;
    const controllers = Array.from({ length: 9 }, () => new AbortController());
    const streams = await Promise.all(controllers.map((c, i) => fetch(`${baseUrl}/v1/jobs/${jobs[i % 2]}/events`, { signal: c.signal })));
    // Every stream is live: each gets its status event, then keepalives.
    await Promise.all(
      streams.map(async (s) => {
        const reader = s.body!.getReader();
        let text = '';
        while (!/\n: keepalive\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      }),
    );
    expect(live().streams).toBe(9);
    expect(await hubConnections()).toBe(1);
    controllers.forEach((c) => c.abort());
    await expect.poll(() => live().streams, { timeout: 5_000, interval: 20 }).toBe(0);
    expect(await hubConnections()).toBe(1);
  });
});
