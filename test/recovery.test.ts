import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/shared/logger.js';
import type { JobRecord, JobSpecInput } from '../src/spec/index.js';
import { startWorker } from '../workers/worker-app.js';
import { type SseEvent, epochsOf, eventsUntilEnd, readLive, recoverableSpec, spawnWorker, startStack, submit, testConfig } from './helpers.js';

/** Checkpoint every epoch, and notice a dead worker within a few seconds. */
const faultConfig = () => testConfig({ CHECKPOINT_MIN_INTERVAL_MS: '0', LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000', JOB_ATTEMPTS: '3' });

const EPOCHS = 40;
const spec = recoverableSpec(EPOCHS);
/** The same job on the eager engine with dropout: its masks too must come out the same after a resume. */
const dropoutSpec: JobSpecInput = {
  ...spec,
  dataset: { builtin: 'spirals', samples: 128 },
  model: {
    inputShape: [2],
    layers: [
      { type: 'dense', units: 16, activation: 'tanh' },
      { type: 'dropout', rate: 0.3 },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
  },
  training: { ...spec.training, engine: 'eager' },
};

const losses = (events: SseEvent[]) => events.filter((e) => e.event === 'epoch').map((e) => e.data.loss);
const allEpochs = Array.from({ length: EPOCHS }, (_, i) => i + 1);

describe('recovery from faults (checkpoints, exact resume)', () => {
  it.each([
    ['the default engine', spec],
    ['the eager engine, with dropout', dropoutSpec],
  ])('resumes a job whose training process was killed (%s), with no gap, no duplicate and the same results', async (_engine, jobSpec) => {
    const stack = await startStack({ config: faultConfig() });
    try {
      const reference = await eventsUntilEnd(stack.app, await submit(stack.app, jobSpec));
      expect(epochsOf(reference)).toEqual(allEpochs);

      const id = await submit(stack.app, jobSpec);
      const base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
      await readLive(base, id, (e) => e.event === 'epoch' && e.data.epoch === 10);
      process.kill(stack.worker!.trainingPid(id)!, 'SIGKILL');

      const events = await eventsUntilEnd(stack.app, id);
      expect(events.at(-1)!.event).toBe('completed');
      expect(epochsOf(events)).toEqual(allEpochs);
      expect(losses(events)).toEqual(losses(reference));
      const statuses = events.filter((e) => e.event === 'status').map((e) => e.data);
      expect(statuses).toContainEqual(expect.objectContaining({ status: 'queued', reason: 'worker_crashed' }));
      const resumed = statuses.find((s) => s.resumed === true)!;
      expect(resumed).toMatchObject({ status: 'running', attempt: 2 });
      expect(resumed.fromEpoch).toBeGreaterThanOrEqual(10);
      const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
      expect(record.attempts).toBe(2);
      expect(record.history.map((h) => h.loss)).toEqual(losses(reference));
      if (jobSpec.training?.engine) expect(record.engine?.name).toBe(jobSpec.training.engine);
    } finally {
      await stack.close();
    }
  });

  it('on worker shutdown stops at a batch boundary, returns the job to the queue and another worker finishes it', async () => {
    const stack = await startStack({ config: faultConfig() });
    let second: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const id = await submit(stack.app, spec);
      const base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
      const seen = await readLive(base, id, (e) => e.event === 'epoch' && e.data.epoch === 8);
      await stack.worker!.close();
      const requeued = await readLive(base, id, (e) => e.event === 'status' && e.data.status === 'queued', {
        'last-event-id': seen.events.at(-1)!.id,
      });
      expect(requeued.events.at(-1)!.data).toMatchObject({ reason: 'worker_shutdown' });

      second = await startWorker(stack.config, createLogger('warn', 'second-worker'));
      const events = await eventsUntilEnd(stack.app, id);
      expect(events.at(-1)!.event).toBe('completed');
      expect(epochsOf(events)).toEqual(allEpochs);
      const resumed = events.find((e) => e.event === 'status' && e.data.resumed === true)!;
      expect(resumed.data.worker).toBe(second.id);
    } finally {
      await second?.close();
      await stack.close();
    }
  });

  it('picks up the job of a worker process killed with SIGKILL and resumes it elsewhere', async () => {
    const stack = await startStack({ worker: false, config: faultConfig() });
    const { child: doomed, exited } = await spawnWorker(stack.config, {
      CHECKPOINT_MIN_INTERVAL_MS: '0',
      LOCK_DURATION_MS: '2000',
      STALLED_INTERVAL_MS: '1000',
    });
    let rescuer: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const id = await submit(stack.app, spec);
      const base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
      await readLive(base, id, (e) => e.event === 'epoch' && e.data.epoch === 8);
      doomed.kill('SIGKILL');
      await exited;
      const killedAt = Date.now();

      rescuer = await startWorker(stack.config, createLogger('warn', 'rescuer'));
      const events = await eventsUntilEnd(stack.app, id);
      expect(events.at(-1)!.event).toBe('completed');
      expect(epochsOf(events)).toEqual(allEpochs);
      const resumed = events.find((e) => e.event === 'status' && e.data.resumed === true)!;
      expect(resumed.data.worker).toBe(rescuer.id);
      console.log(`worker killed -> job resumed on another worker after ${Date.parse(resumed.data.at as string) - killedAt} ms`);
    } finally {
      doomed.kill('SIGKILL');
      await rescuer?.close();
      await stack.close();
    }
  });
});
