import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT } from '../src/shared/access.js';
import type { ExperimentRecord } from '../src/spec/index.js';
import { type Stack, experimentEventCheck, parseSse, startStack, testConfig, xorSpec } from './helpers.js';

describe('quotas with a real worker training', () => {
  let stack: Stack;
  const usage = async () => (await stack.app.inject('/v1/tenant')).json<{ usage: { activeJobs: number; artifactBytes: number } }>().usage;

  beforeAll(async () => {
    stack = await startStack({ config: testConfig({ EXPERIMENT_SWEEP_MS: '200' }) });
  });
  afterAll(() => stack.close());

  it('counts experiment trials as active jobs: a trial with no room waits, told once, and starts when a slot frees', async () => {
    await stack.app.quotas.tenants.setQuotas(DEFAULT_TENANT, { activeJobs: 1 });
    try {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/v1/experiments',
        payload: {
          base: xorSpec({ training: { epochs: 3, batchSize: 4, seed: 1 } }),
          space: { 'optimizer.learningRate': { values: [0.05, 0.1] } },
          objective: { metric: 'loss' },
          maxConcurrentTrials: 2,
        },
      });
      expect(res.statusCode).toBe(202);
      const submitted = res.json<ExperimentRecord>();
      expect(submitted.counts).toEqual({ queued: 1, pending: 1 });
      expect(submitted.waitingFor).toEqual({ trial: 1, jobId: submitted.trials[1]!.jobId, quota: 'activeJobs', used: 1, limit: 1 });

      const events = parseSse((await stack.app.inject(`/v1/experiments/${submitted.id}/events`)).body, experimentEventCheck);
      const order = events.map((e) => `${e.event}${typeof e.data.trial === 'number' ? e.data.trial : ''}`).filter((e) => !e.startsWith('trial_epoch'));
      expect(order).toEqual(['trial_waiting1', 'trial_started0', 'trial_ended0', 'trial_started1', 'trial_ended1', 'completed']);
      expect(events[0]!.data).toEqual({ trial: 1, jobId: submitted.trials[1]!.jobId, quota: 'activeJobs', used: 1, limit: 1 });

      const done = (await stack.app.inject(`/v1/experiments/${submitted.id}`)).json<ExperimentRecord>();
      expect(done).toMatchObject({ status: 'completed', counts: { completed: 2 }, waitingFor: null });
      expect((await usage()).activeJobs).toBe(0);
    } finally {
      await stack.app.quotas.tenants.setQuotas(DEFAULT_TENANT, { activeJobs: null });
    }
  });
});
