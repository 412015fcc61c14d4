import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../src/spec/index.js';
import { type Stack, eventsUntilEnd, expectHealthy, longSpec, readLive, startStack, submit, testConfig, xorSpec } from './helpers.js';

type ErrorBody = { error: { code: string; message: string; details?: unknown } };

const seeded = (seed: number) => () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

/** A regression model with `outputs` outputs on `features` inputs, trained one epoch on inline data. */
function wideSpec(features: number, hidden: number[], outputs: number) {
  const rand = seeded(7);
  const x = Array.from({ length: 16 }, () => Array.from({ length: features }, rand));
  const y = x.map(() => Array.from({ length: outputs }, rand));
  return xorSpec({
    name: 'wide',
    dataset: { inline: { x, y } },
    model: {
      inputShape: [features],
      layers: [...hidden.map((units) => ({ type: 'dense' as const, units, activation: 'relu' as const })), { type: 'dense', units: outputs }],
    },
    loss: 'meanSquaredError',
    metrics: [],
    training: { epochs: 1, batchSize: 16, seed: 1 },
  });
}

/** Bytes Redis uses for every key of this deployment matching `pattern`. */
async function memoryOf(redis: Redis, pattern: string): Promise<number> {
  let total = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) total += (await redis.memory('USAGE', key)) ?? 0;
  } while (cursor !== '0');
  return total;
}

describe('predict results and limits', () => {
  let stack: Stack;
  let wide: string;
  beforeAll(async () => {
    stack = await startStack({ config: testConfig({ MAX_PREDICT_OUTPUT_VALUES: '400000' }) });
    wide = await submit(stack.app, wideSpec(4, [], 64));
    expect((await eventsUntilEnd(stack.app, wide)).at(-1)!.event).toBe('completed');
  });
  afterAll(async () => stack.close());

  it('refuses a request whose outputs would pass MAX_PREDICT_OUTPUT_VALUES with a 422, before running it', async () => {
    const inputs = Array.from({ length: 6_251 }, () => [0.1, 0.2, 0.3, 0.4]);
    const res = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${wide}/predict`, payload: { inputs } });
    expect(res.statusCode).toBe(422);
    expect(res.json<ErrorBody>().error).toMatchObject({
      code: 'limit_exceeded',
      details: [{ limit: 'MAX_PREDICT_OUTPUT_VALUES', value: 6_251 * 64, max: 400_000 }],
    });
    await expectHealthy(stack.app);
  });

  it('keeps no predict result in Redis: replies are read once, BullMQ holds no return value', async () => {
    const prefix = stack.config.REDIS_PREFIX;
    const patterns = [`${prefix}:bull:predict*`, `${prefix}:predict-replies:*`];
    const before = (await Promise.all(patterns.map((p) => memoryOf(stack.app.redis, p)))).reduce((a, b) => a + b, 0);
    const inputs = Array.from({ length: 6_000 }, (_, i) => [i / 6_000, 0.2, 0.3, 0.4]);
    let answered = 0;
    for (let i = 0; i < 3; i++) {
      const res = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${wide}/predict`, payload: { inputs } });
      expect(res.statusCode).toBe(200);
      expect(res.json<{ outputs: number[][] }>().outputs).toHaveLength(6_000);
      answered = res.body.length;
    }
    const after = (await Promise.all(patterns.map((p) => memoryOf(stack.app.redis, p)))).reduce((a, b) => a + b, 0);
    // Three answers of several MB each went through Redis; what stays is BullMQ's bookkeeping.
    expect(answered).toBeGreaterThan(4_000_000);
    expect(after - before).toBeLessThan(answered / 20);
    const events = await stack.app.redis.xrange(`${prefix}:bull:predict:events`, '-', '+');
    expect(events.length).toBeGreaterThan(0);
    expect(events.every(([, fields]) => fields.join(' ').length < 1_000)).toBe(true);
    await expectHealthy(stack.app);
  });
});

describe('a heavy predict during a training job', () => {
  let stack: Stack;
  let baseUrl: string;
  beforeAll(async () => {
    // Short locks: a worker whose event loop stalled for 4 s (the predict takes longer) would lose its training job.
    stack = await startStack({ config: testConfig({ LOCK_DURATION_MS: '4000', STALLED_INTERVAL_MS: '1000' }) });
    baseUrl = await stack.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => stack.close());

  it('runs in the predict process: the training job keeps its lock, its attempt and its epochs', async () => {
    const heavy = await submit(stack.app, wideSpec(64, [4096, 4096], 1));
    expect((await eventsUntilEnd(stack.app, heavy)).at(-1)!.event).toBe('completed');

    const training = await submit(stack.app, longSpec(10_000));
    await readLive(baseUrl, training, (e) => e.event === 'epoch');
    const rand = seeded(3);
    const inputs = Array.from({ length: 2_000 }, () => Array.from({ length: 64 }, rand));
    const started = Date.now();
    const res = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${heavy}/predict`, payload: { inputs } });
    expect(res.statusCode).toBe(200);
    console.log(`heavy predict: ${Date.now() - started} ms for 2,000 rows of a 17M-parameter model`);
    const epochNow = (await stack.app.inject(`/v1/jobs/${training}`)).json<JobRecord>().epoch;

    // Epochs go on being recorded (each append is fenced by the lock), in the first attempt.
    const { events } = await readLive(baseUrl, training, (e) => e.event === 'epoch' && (e.data.epoch as number) >= epochNow + 3);
    expect(events.filter((e) => e.event === 'status' && e.data.status === 'running')).toHaveLength(1);
    const record = (await stack.app.inject(`/v1/jobs/${training}`)).json<JobRecord>();
    expect(record.status).toBe('running');
    expect(record.attempts).toBe(1);
    expect((await stack.app.inject({ method: 'POST', url: `/v1/jobs/${training}/cancel` })).statusCode).toBe(200);
    await expectHealthy(stack.app);
  });
});
