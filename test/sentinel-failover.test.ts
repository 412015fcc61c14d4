import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SentinelGroup, startSentinelGroup } from '../src/cli/redis-sentinel.js';
import type { JobRecord } from '../src/spec/index.js';
import { type Stack, epochsOf, eventsUntilEnd, readLive, recoverableSpec, startStack, submit, testConfig, xorSpec } from './helpers.js';

const EPOCHS = 60;
const spec = recoverableSpec(EPOCHS, 'failover');

/**
 * Redis behind Sentinels on loopback (a primary, a replica, three Sentinels): the primary is
 * killed with SIGKILL while a job trains; every connection (job store, BullMQ, event reads)
 * follows the Sentinels to the promoted replica by itself and the job completes.
 */
describe('Redis Sentinel failover', () => {
  let dir: string;
  let group: SentinelGroup;
  let stack: Stack;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'descent-sentinel-'));
    group = await startSentinelGroup({ dir });
    stack = await startStack({
      config: testConfig({
        // A hash-tagged prefix, as Redis Cluster needs (BullMQ's keys included): it works on any Redis.
        REDIS_PREFIX: `{test-${randomUUID().slice(0, 8)}}`,
        REDIS_SENTINELS: group.sentinels,
        REDIS_MASTER_NAME: group.masterName,
        REDIS_WAIT_REPLICAS: '1',
        REDIS_WAIT_TIMEOUT_MS: '500',
        CHECKPOINT_MIN_INTERVAL_MS: '0',
      }),
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
    await group?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('kill -9 of the primary mid-job: the service recovers by itself and the job completes, every epoch once', async () => {
    // Submission waited for the replica (REDIS_WAIT_REPLICAS=1): the job survives the failover.
    const id = await submit(stack.app, spec);
    const base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
    await readLive(base, id, (e) => e.event === 'epoch' && e.data.epoch === 10);
    await group.primary.crash();
    expect(await group.switched).toBe(`127.0.0.1:${group.replica.port}`);

    await expect
      .poll(async () => (await stack.app.inject(`/v1/jobs/${id}`)).json<Partial<JobRecord>>().status, { timeout: 90_000, interval: 250 })
      .toBe('completed');
    const events = await eventsUntilEnd(stack.app, id);
    expect(events.at(-1)!.event).toBe('completed');
    expect(epochsOf(events)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
    expect(record.history.map((h) => h.epoch)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));

    // The promoted replica serves new work too (with no replica left, WAIT times out and the job is still accepted).
    const next = await submit(stack.app, xorSpec({ training: { epochs: 5, batchSize: 4, seed: 1 } }));
    const after = await eventsUntilEnd(stack.app, next);
    expect(after.at(-1)!.event).toBe('completed');
    const healthz = await stack.app.inject('/healthz');
    expect(healthz.statusCode).toBe(200);
  }, 150_000);
});
