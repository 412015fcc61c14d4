import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobListItem, JobRecord } from '../src/spec/index.js';
import { JobLifecycle } from '../src/store/job-lifecycle.js';
import { JobStore } from '../src/store/job-store.js';
import { redisKeys } from '../src/store/keys.js';
import { type Stack, expectHealthy, startStack, submit, testConfig, xorSpec } from './helpers.js';

const FEATURES = 20;
const SAMPLES = 10_000;

/** A job whose inline dataset is about 2 MB of JSON. */
function bigInlineSpec(seed: number) {
  const x = Array.from({ length: SAMPLES }, (_, i) => Array.from({ length: FEATURES }, (_, j) => ((i * 31 + j * 17 + seed) % 1000) / 997));
  const y = x.map((row) => [row[0]! > 0.5 ? 1 : 0]);
  return xorSpec({
    name: `big-${seed}`,
    dataset: { inline: { x, y } },
    model: { inputShape: [FEATURES], layers: [{ type: 'dense', units: 1, activation: 'sigmoid' }] },
    training: { epochs: 1, batchSize: 256, seed },
  });
}

describe('GET /v1/jobs with big inline datasets', () => {
  let stack: Stack;
  const ids: string[] = [];
  const maxBytes = 4 * 1024 * 1024;
  beforeAll(async () => {
    // No worker: the jobs stay queued with their data in their records.
    stack = await startStack({ worker: false, config: testConfig({ MAX_LIST_RESPONSE_BYTES: String(maxBytes) }) });
    for (let i = 0; i < 6; i++) ids.push(await submit(stack.app, bigInlineSpec(i)));
    ids.reverse();
  }, 120_000);
  afterAll(async () => stack.close());

  it('lists slim items by default: no history, no inline data, the sample count instead', async () => {
    const res = await stack.app.inject('/v1/jobs?limit=100');
    expect(res.statusCode).toBe(200);
    const { items, next } = res.json<{ items: JobListItem[]; next: string | null }>();
    expect(items.map((j) => j.id)).toEqual(ids);
    expect(next).toBeNull();
    expect(items[0]).not.toHaveProperty('history');
    expect(items[0]!.spec.dataset).toEqual({ inline: { samples: SAMPLES } });
    expect(items[0]!.spec.model.inputShape).toEqual([FEATURES]);
    expect(res.body.length).toBeLessThan(64 * 1024);
  });

  it('pages the full view by size: every record once, no page much over MAX_LIST_RESPONSE_BYTES', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await stack.app.inject(`/v1/jobs?limit=100&view=full${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const page: { items: JobRecord[]; next: string | null } = res.json();
      expect(page.items.length).toBeGreaterThan(0);
      // At most one record past the budget: the one that would cross it starts the next page.
      expect(res.body.length).toBeLessThan(maxBytes + 2 * 1024 * 1024 * 1.5);
      for (const item of page.items) {
        expect(item.spec.dataset.inline?.x).toHaveLength(SAMPLES);
        expect(item.history).toEqual([]);
      }
      seen.push(...page.items.map((j) => j.id));
      cursor = page.next;
      pages++;
    } while (cursor);
    expect(seen).toEqual(ids);
    expect(pages).toBeGreaterThan(1);
    await expectHealthy(stack.app);
  });

  it("gives each slim item its last epoch's metrics, the full record's last history entry, also for a record written before items had it", async () => {
    const keys = redisKeys(stack.config.REDIS_PREFIX);
    const store = new JobStore(stack.app.redis, keys, 1000);
    const lifecycle = new JobLifecycle(store);
    const id = await submit(stack.app, xorSpec({ name: 'listed-metrics', training: { epochs: 3, batchSize: 4, seed: 1 } }));
    const slim = async () => (await stack.app.inject('/v1/jobs?limit=100')).json<{ items: JobListItem[] }>().items.find((j) => j.id === id)!;
    expect((await slim()).lastEpoch).toBeNull();
    await lifecycle.start((await store.get(id))!, 'w1');
    for (const [epoch, loss, accuracy] of [
      [1, 0.69, 0.5],
      [2, 0.41, 0.75],
    ] as const) {
      await lifecycle.recordEpoch(id, { epoch, loss, accuracy, learningRate: 0.05, durationMs: 3 }, 3, undefined);
    }
    const full = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
    expect(full.history.at(-1)).toEqual({ epoch: 2, loss: 0.41, accuracy: 0.75 });
    expect((await slim()).lastEpoch).toEqual(full.history.at(-1));
    // A record from before lists kept the last epoch: read from the history's tail.
    await stack.app.redis.hdel(keys.job(id), 'lastEpoch');
    expect((await slim()).lastEpoch).toEqual(full.history.at(-1));
    await lifecycle.cancel(id);
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(204);
  });

  it('keeps the status filter and the cursor on slim pages', async () => {
    const page1 = (await stack.app.inject('/v1/jobs?limit=4&status=queued')).json<{ items: JobListItem[]; next: string }>();
    const page2 = (await stack.app.inject(`/v1/jobs?limit=4&status=queued&cursor=${page1.next}`)).json<{ items: JobListItem[]; next: string | null }>();
    expect([...page1.items, ...page2.items].map((j) => j.id)).toEqual(ids);
    expect(page2.next).toBeNull();
    expect((await stack.app.inject('/v1/jobs?view=huge')).statusCode).toBe(400);
  });
});
