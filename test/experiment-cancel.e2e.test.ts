import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { ExperimentCurves, ExperimentRecord, ExperimentSpecInput, JobRecord } from '../src/spec/index.js';
import { JobLifecycle } from '../src/store/job-lifecycle.js';
import { JobStore } from '../src/store/job-store.js';
import { redisKeys } from '../src/store/keys.js';
import { type SseEvent, experimentEventCheck, parseSse, readLive, startStack, testConfig, xorSpec } from './helpers.js';

const EPOCHS = 12;

const search = (trials: number, maxConcurrentTrials: number): ExperimentSpecInput => ({
  base: xorSpec({ training: { epochs: EPOCHS, batchSize: 4, seed: 1 } }),
  space: { 'optimizer.learningRate': { values: Array.from({ length: trials }, (_, i) => 0.01 * (i + 1)) } },
  objective: { metric: 'loss' },
  maxConcurrentTrials,
});

async function start(app: FastifyInstance, spec: ExperimentSpecInput): Promise<ExperimentRecord> {
  const res = await app.inject({ method: 'POST', url: '/v1/experiments', payload: spec });
  if (res.statusCode !== 202) throw new Error(`submit failed: ${res.statusCode} ${res.body}`);
  return res.json<ExperimentRecord>();
}

async function cancel(app: FastifyInstance, id: string): Promise<ExperimentRecord> {
  const res = await app.inject({ method: 'POST', url: `/v1/experiments/${id}/cancel` });
  expect(res.statusCode).toBe(200);
  return res.json<ExperimentRecord>();
}

const countsOf = (statuses: string[]) => statuses.reduce<Record<string, number>>((c, s) => ({ ...c, [s]: (c[s] ?? 0) + 1 }), {});

/**
 * A cancelled experiment as each of its views shows it agrees with its trials' jobs: the record's
 * trials and counts, its event stream (a trial_ended per trial, then `cancelled` with the counts)
 * and its curves. A trial that never got a job (still pending at the cancel) is cancelled.
 */
async function expectAgreement(app: FastifyInstance, id: string, answered?: ExperimentRecord): Promise<ExperimentRecord> {
  const x = (await app.inject(`/v1/experiments/${id}`)).json<ExperimentRecord>();
  if (answered) expect(answered.trials.map((t) => [t.index, t.status, t.epochs])).toEqual(x.trials.map((t) => [t.index, t.status, t.epochs]));
  expect(x.status).toBe('cancelled');
  const jobs = new Map<number, JobRecord | undefined>();
  for (const t of x.trials) {
    const res = await app.inject(`/v1/jobs/${t.jobId}`);
    jobs.set(t.index, res.statusCode === 404 ? undefined : res.json<JobRecord>());
  }
  for (const t of x.trials) {
    const job = jobs.get(t.index);
    expect([t.index, t.status, t.epochs, t.stoppedBy]).toEqual([t.index, job?.status ?? 'cancelled', job?.epoch ?? 0, job?.stoppedBy ?? null]);
  }
  expect(x.counts).toEqual(countsOf(x.trials.map((t) => t.status)));

  const res = await app.inject(`/v1/experiments/${id}/events`);
  expect(res.statusCode).toBe(200);
  const events = parseSse(res.body, experimentEventCheck);
  const last = events.at(-1)!;
  expect(last.event).toBe('cancelled');
  expect(last.data.counts).toEqual(x.counts);
  const ended = (trial: number) => events.filter((e) => e.event === 'trial_ended' && e.data.trial === trial);
  for (const t of x.trials) {
    expect(ended(t.index).map((e) => e.data.status)).toEqual([t.status]);
    const epochs = events.filter((e) => e.event === 'trial_epoch' && e.data.trial === t.index).map((e) => e.data.epoch);
    expect(epochs).toEqual(jobs.get(t.index)?.history.map((h) => h.epoch) ?? []);
  }

  const curves = (await app.inject(`/v1/experiments/${id}/curves?metric=loss`)).json<ExperimentCurves>();
  for (const c of curves.trials) expect(c.values).toEqual(curves.epochs.map((e) => jobs.get(c.trial)?.history[e - 1]?.loss ?? null));
  return x;
}

describe('cancelling an experiment', () => {
  const moments: [string, (e: SseEvent) => boolean][] = [
    ['a trial is training', (e) => e.event === 'trial_epoch'],
    ['a trial starts', (e) => e.event === 'trial_started'],
    ['a trial trains its last epoch', (e) => e.event === 'trial_epoch' && e.data.epoch === EPOCHS],
  ];
  it.each(moments)(
    'leaves its record, counts, events and curves agreeing with its trial jobs, cancelled as %s, and after its worker stops',
    async (_moment, when) => {
      const stack = await startStack({ config: testConfig({ WORKER_CONCURRENCY: '2' }) });
      try {
        const base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
        const x = await start(stack.app, search(6, 2));
        await readLive(base, x.id, when, {}, 'experiments');
        const answered = await cancel(stack.app, x.id);
        const seen = await expectAgreement(stack.app, x.id, answered);
        expect(seen.counts.cancelled).toBeGreaterThan(0);
        // Nothing its worker does afterwards (a trial's process ending, a reconcile) changes it.
        await stack.worker!.close();
        const after = await expectAgreement(stack.app, x.id);
        expect(after.trials).toEqual(seen.trials);
        // Cancelling again changes nothing.
        expect((await cancel(stack.app, x.id)).trials).toEqual(seen.trials);
      } finally {
        await stack.close();
      }
    },
    120_000,
  );

  it('counts what each trial job did before the cancel, also what no reconcile had seen yet', async () => {
    const stack = await startStack({ worker: false });
    try {
      const x = await start(stack.app, search(5, 3));
      expect(x.counts).toEqual({ queued: 3, pending: 2 });
      // What a worker does to the trials' jobs, with no reconcile after it (as when the cancel takes the experiment's lock first).
      const jobs = new JobStore(stack.app.redis, redisKeys(stack.config.REDIS_PREFIX), 1000);
      const lifecycle = new JobLifecycle(jobs);
      const [first, second] = x.trials;
      for (const t of [first!, second!]) expect(await lifecycle.start((await jobs.get(t.jobId))!, 'w1')).toMatchObject({ started: true });
      await lifecycle.recordEpoch(first!.jobId, { epoch: 1, loss: 0.5, learningRate: 0.01, durationMs: 3 }, EPOCHS, undefined);
      expect((await lifecycle.complete(first!.jobId, { numTensors: 0 })).ok).toBe(true);
      await lifecycle.recordEpoch(second!.jobId, { epoch: 1, loss: 0.6, learningRate: 0.02, durationMs: 3 }, EPOCHS, undefined);

      const answered = await cancel(stack.app, x.id);
      const seen = await expectAgreement(stack.app, x.id, answered);
      expect(seen.trials.map((t) => [t.status, t.epochs])).toEqual([
        ['completed', 1],
        ['cancelled', 1],
        ['cancelled', 0],
        ['cancelled', 0],
        ['cancelled', 0],
      ]);
      expect(seen.counts).toEqual({ completed: 1, cancelled: 4 });
      expect(seen.leaderboard.map((e) => [e.trial, e.best])).toEqual([
        [0, 0.5],
        [1, 0.6],
      ]);
    } finally {
      await stack.close();
    }
  });
});
