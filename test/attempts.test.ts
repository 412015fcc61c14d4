import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/shared/logger.js';
import type { JobRecord } from '../src/spec/index.js';
import { redisKeys } from '../src/store/keys.js';
import { createTrainingQueue } from '../src/queue/queues.js';
import { type RunningWorker, startWorker } from '../workers/worker-app.js';
import { type SseEvent, epochsOf, eventsUntilEnd, readLive, recoverableSpec, startStack, submit, testConfig } from './helpers.js';

/** Checkpoint every epoch, and two attempts: one crash is retried, a second one is not. */
const twoAttempts = () => testConfig({ CHECKPOINT_MIN_INTERVAL_MS: '0', JOB_ATTEMPTS: '2' });

const statuses = (events: SseEvent[]) => events.filter((e) => e.event === 'status').map((e) => e.data);

describe('what spends an attempt', () => {
  it('worker shutdowns spend none: a job stopped more often than JOB_ATTEMPTS still gets its crash retried and completes', async () => {
    const EPOCHS = 40;
    const stack = await startStack({ config: twoAttempts() });
    const workers: RunningWorker[] = [stack.worker!];
    try {
      const id = await submit(stack.app, recoverableSpec(EPOCHS));
      const base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
      let last: string | undefined;
      /** Reads the stream on from the last event seen until `until` matches. */
      const until = async (match: (e: SseEvent) => boolean) => {
        const { events } = await readLive(base, id, match, last ? { 'last-event-id': last } : {});
        last = events.at(-1)!.id;
        return events.at(-1)!;
      };
      // Two shutdowns, each once the job has trained a few more epochs on that worker.
      for (const epoch of [4, 8]) {
        await until((e) => e.event === 'epoch' && Number(e.data.epoch) >= epoch);
        await workers.at(-1)!.close();
        expect((await until((e) => e.event === 'status' && e.data.status === 'queued')).data).toMatchObject({ reason: 'worker_shutdown' });
        workers.push(await startWorker(stack.config, createLogger('warn', `worker-${workers.length}`)));
      }
      // Then a crash: with both attempts spent by the shutdowns, it would fail the job.
      await until((e) => e.event === 'epoch' && Number(e.data.epoch) >= 12);
      process.kill(workers.at(-1)!.trainingPid(id)!, 'SIGKILL');

      const events = await eventsUntilEnd(stack.app, id);
      expect(events.at(-1)!.event).toBe('completed');
      expect(epochsOf(events)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
      const runs = statuses(events).filter((s) => s.status === 'running');
      expect(runs.map((s) => s.attempt)).toEqual([1, 1, 1, 2]);
      expect(runs.map((s) => s.resumed ?? false)).toEqual([false, true, true, true]);
      expect(statuses(events).filter((s) => s.status === 'queued' && s.reason)).toEqual([
        expect.objectContaining({ reason: 'worker_shutdown' }),
        expect.objectContaining({ reason: 'worker_shutdown' }),
        expect.objectContaining({ reason: 'worker_crashed', attempt: 1 }),
      ]);
      const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
      expect(record).toMatchObject({ status: 'completed', attempts: 2, starts: 4 });
    } finally {
      for (const w of workers) await w.close();
      await stack.close();
    }
  });

  it('a job whose record cannot be read on its last attempt ends failed (start_failed), not queued forever', async () => {
    const config = twoAttempts();
    const stack = await startStack({ worker: false, config });
    const keys = redisKeys(config.REDIS_PREFIX);
    try {
      const id = await submit(stack.app, recoverableSpec(5));
      // Made unreadable for real: its history key holds a string, so reading the record fails
      // with WRONGTYPE on every attempt, while its status and events stay writable.
      await stack.app.redis.set(keys.history(id), 'not a list');
      const worker = await startWorker(config, createLogger('silent', 'w'));
      try {
        const events = await eventsUntilEnd(stack.app, id);
        expect(events.map((e) => [e.event, e.data.status])).toEqual([
          ['status', 'queued'],
          ['status', 'failed'],
          ['failed', 'failed'],
        ]);
        expect(events.at(-1)!.data.error).toMatchObject({ code: 'start_failed', message: expect.stringMatching(/WRONGTYPE/) });
        expect(await stack.app.redis.hmget(keys.job(id), 'status', 'attempts')).toEqual(['failed', '0']);
        // BullMQ tried both attempts before giving up.
        const queue = createTrainingQueue(stack.app.redis, keys);
        try {
          expect((await queue.getJob(id))?.attemptsMade).toBe(2);
        } finally {
          await queue.close();
        }
      } finally {
        await worker.close();
      }
    } finally {
      await stack.close();
    }
  });

  it('an artifact store fault is retried from the checkpoint; one that lasts fails the job with storage_unavailable', async () => {
    const EPOCHS = 6;
    const config = twoAttempts();
    const stack = await startStack({ worker: false, config });
    try {
      const id = await submit(stack.app, recoverableSpec(EPOCHS));
      // A file where the job's model directory goes: every save of the trained model fails, as
      // a write to a full or unreachable store does; checkpoints (a directory beside it) still work.
      const jobDir = join(config.DATA_DIR, 'artifacts', 'jobs', id);
      mkdirSync(jobDir, { recursive: true });
      writeFileSync(join(jobDir, 'model'), 'in the way');
      const worker = await startWorker(config, createLogger('silent', 'w'));
      try {
        const events = await eventsUntilEnd(stack.app, id);
        expect(epochsOf(events)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
        const requeued = statuses(events).filter((s) => s.status === 'queued' && s.reason);
        expect(requeued).toEqual([expect.objectContaining({ reason: 'storage_unavailable', attempt: 1 })]);
        const runs = statuses(events).filter((s) => s.status === 'running');
        expect(runs.at(-1)).toMatchObject({ attempt: 2, resumed: true, fromEpoch: EPOCHS });
        expect(events.at(-1)).toMatchObject({ event: 'failed', data: { error: { code: 'storage_unavailable' } } });
        expect((events.at(-1)!.data.error as { message: string }).message).toMatch(/artifact store/);
      } finally {
        await worker.close();
      }
    } finally {
      await stack.close();
    }
  });
});
