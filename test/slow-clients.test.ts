import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, expectHealthy, startStack, testConfig } from './helpers.js';

type ErrorBody = { error: { code: string; message: string } };

/** A raw connection that records what the server answers and when it closes. */
async function open(baseUrl: string): Promise<{ socket: Socket; answer: () => string; closed: Promise<unknown> }> {
  const socket = connect(Number(new URL(baseUrl).port), '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString()));
  socket.on('error', () => {});
  return { socket, answer: () => text, closed: once(socket, 'close') };
}

const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as ErrorBody;

describe('slow clients are cut off', () => {
  let stack: Stack;
  let baseUrl: string;
  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      config: testConfig({ REQUEST_TIMEOUT_MS: '2000', HEADERS_TIMEOUT_MS: '1000', UPLOAD_IDLE_TIMEOUT_MS: '700' }),
    });
    baseUrl = await stack.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => stack.close());

  it('closes slow-loris uploads that trickle 2 bytes at a time with a 408', async () => {
    const clients = await Promise.all(Array.from({ length: 5 }, () => open(baseUrl)));
    const trickles = clients.map(({ socket }) => {
      socket.write('POST /v1/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\na,b\n');
      // Never idle (a write every 100 ms), never done.
      return setInterval(() => socket.writable && socket.write('1,'), 100);
    });
    try {
      await Promise.all(clients.map((c) => c.closed));
    } finally {
      trickles.forEach(clearInterval);
    }
    for (const c of clients) {
      expect(c.answer()).toMatch(/^HTTP\/1\.1 408 /);
      expect(bodyOf(c.answer()).error.code).toBe('request_timeout');
    }
    await expectHealthy(stack.app);
  });

  it('answers an upload whose body stops arriving with a 408 and closes it', async () => {
    const c = await open(baseUrl);
    c.socket.write('POST /v1/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\na,b\n1,2\n');
    await c.closed;
    expect(c.answer()).toMatch(/^HTTP\/1\.1 408 /);
    expect(bodyOf(c.answer()).error.message).toMatch(/UPLOAD_IDLE_TIMEOUT_MS/);
    await expectHealthy(stack.app);
  });

  it('closes a connection whose headers never finish with a 408', async () => {
    const c = await open(baseUrl);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => c.socket.writable && c.socket.write('X-A: b\r\n'), 100);
    try {
      await c.closed;
    } finally {
      clearInterval(drip);
    }
    expect(c.answer()).toMatch(/^HTTP\/1\.1 408 /);
    await expectHealthy(stack.app);
  });

  it('still takes an upload that arrives in time', async () => {
    const res = await fetch(`${baseUrl}/v1/datasets`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n' });
    expect(res.status).toBe(201);
  });
});
