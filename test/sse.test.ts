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

  const connectedClients = async () => Number(/connected_clients:(\d+)/.exec(await stack.app.redis.info('clients'))![1]);

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

  it('releases its Redis connection when clients go away', async () => {
    const id = await submit(stack.app, xorSpec());
    const before = await connectedClients();
    const controllers = Array.from({ length: 5 }, () => new AbortController());
    const streams = await Promise.all(controllers.map((c) => fetch(`${baseUrl}/v1/jobs/${id}/events`, { signal: c.signal })));
    // Each open stream holds one blocking connection.
    await Promise.all(streams.map(async (s) => s.body!.getReader().read()));
    await expect.poll(connectedClients, { timeout: 5_000, interval: 20 }).toBe(before + 5);
    controllers.forEach((c) => c.abort());
    await expect.poll(connectedClients, { timeout: 5_000, interval: 20 }).toBe(before);
  });
});
