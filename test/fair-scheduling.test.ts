import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../src/spec/index.js';
import { type Stack, eventsUntilEnd, startStack, testConfig, xorSpec } from './helpers.js';

/** One epoch of XOR: a job slot is little more than its training process starting. */
const tiny = (name: string) => xorSpec({ name, training: { epochs: 1, batchSize: 4, seed: 1 } });

describe('fair scheduling across tenants (real Redis, BullMQ, one worker, training processes)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ config: testConfig({ AUTH: 'required' }) });
  });
  afterAll(() => stack.close());

  it("runs tenant B's one job within the next two job slots behind tenant A's backlog of 100", async () => {
    const key = async (tenant: string) => ({ authorization: `Bearer ${(await stack.app.apiKeys.create({ tenant, scope: 'write' })).key}` });
    const [a, b] = [await key('a'), await key('b')];
    const admin = { authorization: `Bearer ${(await stack.app.apiKeys.create({ tenant: 'ops', scope: 'admin' })).key}` };
    const aIds: string[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: a, payload: tiny(`a-${i}`) });
      expect(res.statusCode).toBe(202);
      aIds.push(res.json<JobRecord>().id);
    }
    const bRes = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: b, payload: tiny('b') });
    expect(bRes.statusCode).toBe(202);
    const bId = bRes.json<JobRecord>().id;

    const events = await eventsUntilEnd(stack.app, bId, undefined, b);
    expect(events.at(-1)!.event).toBe('completed');
    const bJob = (await stack.app.inject({ url: `/v1/jobs/${bId}`, headers: b })).json<JobRecord>();
    const aJobs = await Promise.all(aIds.map(async (id) => (await stack.app.inject({ url: `/v1/jobs/${id}`, headers: a })).json<JobRecord>()));
    // The slots B waited for: A's jobs that started after B was queued and before B started.
    const ahead = aJobs.filter((j) => j.startedAt !== null && j.startedAt > bJob.createdAt && j.startedAt <= bJob.startedAt!);
    const startedBefore = aJobs.filter((j) => j.startedAt !== null && j.startedAt <= bJob.startedAt!).length;
    console.log(`fair scheduling: B started after ${ahead.length} of A's jobs started since B was queued (${startedBefore} of A's 100 started before B)`);
    expect(ahead.length).toBeLessThanOrEqual(2);
    expect(startedBefore).toBeLessThan(100);

    for (const id of aIds) await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: admin });
  });
});
