import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { freePort } from '../src/cli/redis-server.js';
import { startWorker } from '../workers/worker-app.js';
import { type Stack, eventsUntilEnd, startStack, submit, testConfig, xorSpec } from './helpers.js';

type ErrorBody = { error: { code: string; message: string } };

/** The value of one series in Prometheus text (undefined when absent). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('readiness without a worker', () => {
  let stack: Stack;
  beforeAll(async () => (stack = await startStack({ worker: false })));
  afterAll(async () => stack.close());

  it('/readyz is 503 no_worker while /healthz stays 200', async () => {
    const ready = await stack.app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json<ErrorBody>().error.code).toBe('no_worker');
    expect((await stack.app.inject('/healthz')).statusCode).toBe(200);
  });
});

describe('readiness and metrics without Redis', () => {
  it('/readyz is 503 redis_unavailable; /metrics still answers, with descent_redis_up 0', async () => {
    const app = await buildApp(testConfig({ REDIS_URL: `redis://127.0.0.1:${await freePort()}`, REDIS_CONNECT_TIMEOUT_MS: '100' }), { logger: false });
    try {
      await app.ready();
      const ready = await app.inject('/readyz');
      expect(ready.statusCode).toBe(503);
      expect(ready.json<ErrorBody>().error.code).toBe('redis_unavailable');
      const metrics = await app.inject('/metrics');
      expect(metrics.statusCode).toBe(200);
      expect(sample(metrics.body, 'descent_redis_up')).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('metrics, readiness and request ids with a worker', () => {
  let stack: Stack;
  const logs: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const config = testConfig();
    const app = await buildApp(config, { logger: false });
    await app.ready();
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const worker = await startWorker(config, pino({ level: 'info' }, sink));
    stack = { config, app, worker, close: async () => (await app.close(), await worker.close()) };
  });
  afterAll(async () => stack.close());

  it('/readyz is 200 with a live worker', async () => {
    const ready = await stack.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', workers: 1 });
  });

  it('carries the x-request-id of a submission into the job logs', async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'x-request-id': 'trace-4711' },
      payload: xorSpec({ training: { epochs: 3, batchSize: 4, seed: 1 } }),
    });
    expect(res.statusCode).toBe(202);
    expect(res.headers['x-request-id']).toBe('trace-4711');
    const id = res.json<{ id: string }>().id;
    expect((await eventsUntilEnd(stack.app, id)).at(-1)!.event).toBe('completed');
    const jobLines = logs.filter((l) => l.jobId === id);
    expect(jobLines.length).toBeGreaterThan(0);
    expect(jobLines.every((l) => l.reqId === 'trace-4711')).toBe(true);
    // Without the header, the API makes one up and names it.
    expect((await stack.app.inject('/healthz')).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('exposes HTTP, job, queue, worker, SSE, Redis and epoch metrics in Prometheus text', async () => {
    const id = await submit(stack.app, xorSpec({ training: { epochs: 5, batchSize: 4, seed: 2 } }));
    expect((await eventsUntilEnd(stack.app, id)).at(-1)!.event).toBe('completed');
    await stack.app.inject('/v1/jobs/nope');
    // The worker publishes its metrics with its heartbeat.
    await expect
      .poll(async () => sample((await stack.app.inject('/metrics')).body, 'descent_epoch_duration_seconds_count') ?? 0, { timeout: 15_000, interval: 250 })
      .toBeGreaterThanOrEqual(5);
    const res = await stack.app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    expect(sample(text, 'descent_http_request_duration_seconds_count{method="POST",route="/v1/jobs",status="202"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'descent_http_request_duration_seconds_count{method="GET",route="/v1/jobs/:id",status="404"}')).toBe(1);
    expect(sample(text, 'descent_jobs{status="completed"}')).toBe(2);
    expect(sample(text, 'descent_jobs{status="queued"}')).toBe(0);
    expect(sample(text, 'descent_queue_jobs{state="waiting"}')).toBe(0);
    expect(sample(text, 'descent_queue_oldest_wait_seconds')).toBe(0);
    expect(sample(text, 'descent_workers_live')).toBe(1);
    expect(sample(text, 'descent_sse_clients')).toBe(0);
    expect(sample(text, 'descent_redis_up')).toBe(1);
    expect(sample(text, 'descent_epoch_samples_per_second_count')).toBeGreaterThanOrEqual(5);
    expect(sample(text, 'descent_worker_process_memory_bytes{process="predict"}')).toBeGreaterThan(10_000_000);
  });
});
