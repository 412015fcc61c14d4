import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../src/spec/index.js';
import { type Stack, eventsUntilEnd, longSpec, startStack, submit, testConfig, xorSpec } from './helpers.js';

describe('bounded jobs', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack.close());

  it('fails a job that trains past maxRuntimeSeconds with code timeout, without retrying', async () => {
    const spec = longSpec(5_000);
    const id = await submit(stack.app, { ...spec, training: { ...spec.training, maxRuntimeSeconds: 1 } });
    const events = await eventsUntilEnd(stack.app, id);
    expect(events.at(-1)!.event).toBe('failed');
    const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
    expect(record.error?.code).toBe('timeout');
    expect(record.attempts).toBe(1);
    expect(stack.worker!.activeJobs()).not.toContain(id);
  });

  it('refuses a maxRuntimeSeconds over the server limit', async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: xorSpec({ training: { epochs: 5, maxRuntimeSeconds: stack.config.MAX_RUNTIME_SECONDS + 1 } }),
    });
    expect(res.statusCode).toBe(422);
    expect(res.json<{ error: { message: string } }>().error.message).toContain('MAX_RUNTIME_SECONDS');
  });
});

describe('memory cap', () => {
  it('fails a job whose training process outgrows CHILD_MAX_MEMORY_MB with code out_of_memory', async () => {
    const stack = await startStack({ config: testConfig({ CHILD_MAX_MEMORY_MB: '64' }) });
    try {
      const id = await submit(stack.app, xorSpec());
      const events = await eventsUntilEnd(stack.app, id);
      expect(events.at(-1)!.event).toBe('failed');
      const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
      expect(record.error?.code).toBe('out_of_memory');
      expect(record.attempts).toBe(1);
    } finally {
      await stack.close();
    }
  });
});
