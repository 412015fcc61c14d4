import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../src/spec/index.js';
import { type Stack, eventsUntilEnd, startStack, submit, xorSpec } from './helpers.js';

describe('idempotent submission and deletion', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack.close());

  const post = (key: string | undefined, body: object) =>
    stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: body, headers: key ? { 'idempotency-key': key } : {} });

  it('returns the same job for a repeated POST with the same Idempotency-Key', async () => {
    const first = await post('order-1', xorSpec({ training: { epochs: 3 } }));
    const again = await post('order-1', xorSpec({ training: { epochs: 3 } }));
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(again.json<JobRecord>().id).toBe(first.json<JobRecord>().id);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const other = await post('order-2', xorSpec({ training: { epochs: 3 } }));
    expect(other.json<JobRecord>().id).not.toBe(first.json<JobRecord>().id);
    const noKey = [await post(undefined, xorSpec({ training: { epochs: 3 } })), await post(undefined, xorSpec({ training: { epochs: 3 } }))];
    expect(noKey[0]!.json<JobRecord>().id).not.toBe(noKey[1]!.json<JobRecord>().id);
  });

  it('refuses the same key with a different body, and frees the key of a rejected request', async () => {
    await post('order-3', xorSpec({ training: { epochs: 3 } }));
    const changed = await post('order-3', xorSpec({ training: { epochs: 4 } }));
    expect(changed.statusCode).toBe(422);
    expect(changed.json<{ error: { code: string } }>().error.code).toBe('idempotency_key_reused');

    const invalid = await post('order-4', { ...xorSpec(), loss: 'vibes' });
    expect(invalid.statusCode).toBe(400);
    expect((await post('order-4', xorSpec({ training: { epochs: 3 } }))).statusCode).toBe(202);
  });

  it('deletes a finished job with its events and model, and keeps answering its key with 410', async () => {
    const first = await post('order-5', xorSpec({ training: { epochs: 3 } }));
    const id = first.json<JobRecord>().id;
    expect((await eventsUntilEnd(stack.app, id)).at(-1)!.event).toBe('completed');
    const modelDir = join(stack.config.DATA_DIR, 'artifacts', 'jobs', id);
    expect(existsSync(modelDir)).toBe(true);

    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(204);
    expect((await stack.app.inject(`/v1/jobs/${id}`)).statusCode).toBe(404);
    expect((await stack.app.inject(`/v1/jobs/${id}/events`)).statusCode).toBe(404);
    expect(existsSync(modelDir)).toBe(false);
    expect(await stack.app.redis.exists(`${stack.config.REDIS_PREFIX}:job:${id}:events`)).toBe(0);
    const list = (await stack.app.inject('/v1/jobs?limit=100')).json<{ items: JobRecord[] }>();
    expect(list.items.map((j) => j.id)).not.toContain(id);

    const replay = await post('order-5', xorSpec({ training: { epochs: 3 } }));
    expect(replay.statusCode).toBe(410);
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(404);
  });

  it('cancels a running job it deletes', async () => {
    const id = await submit(stack.app, xorSpec({ dataset: { builtin: 'spirals', samples: 64 }, training: { epochs: 5_000, batchSize: 8 } }));
    await expect.poll(() => stack.worker!.activeJobs().includes(id), { timeout: 10_000, interval: 20 }).toBe(true);
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(204);
    await expect.poll(() => stack.worker!.activeJobs().includes(id), { timeout: 10_000, interval: 20 }).toBe(false);
    expect((await stack.app.inject(`/v1/jobs/${id}`)).statusCode).toBe(404);
  });
});
