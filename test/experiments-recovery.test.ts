import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/shared/logger.js';
import type { ExperimentRecord, JobRecord } from '../src/spec/index.js';
import { startWorker } from '../workers/worker-app.js';
import { experimentEventCheck, parseSse, readLive, spawnWorker, startStack, testConfig, xorSpec } from './helpers.js';

describe('experiments survive a dead worker', () => {
  it('a worker killed with SIGKILL mid-experiment: its trial resumes elsewhere and every trial is accounted for', async () => {
    const fault = { CHECKPOINT_MIN_INTERVAL_MS: '0', LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '1000', EXPERIMENT_SWEEP_MS: '500' };
    const stack = await startStack({ worker: false, config: testConfig(fault) });
    const { child: doomed, exited } = await spawnWorker(stack.config, fault);
    let rescuer: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/v1/experiments',
        payload: {
          base: xorSpec({ dataset: { builtin: 'spirals', samples: 64 }, training: { epochs: 30, batchSize: 8, seed: 2 } }),
          space: {
            optimizer: {
              choices: [
                { name: 'sgd', learningRate: { values: [0.05, 0.5] } },
                { name: 'adam', learningRate: { values: [0.01, 0.1] } },
              ],
            },
          },
          objective: { metric: 'loss' },
          scheduler: { type: 'asha', gracePeriod: 5, reductionFactor: 2 },
          maxConcurrentTrials: 2,
        },
      });
      expect(res.statusCode).toBe(202);
      const id = res.json<ExperimentRecord>().id;
      const base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
      // Killed while a trial trains, past its first rung.
      await readLive(base, id, (e) => e.event === 'trial_epoch' && (e.data.epoch as number) >= 7, {}, 'experiments');
      doomed.kill('SIGKILL');
      await exited;

      rescuer = await startWorker(stack.config, createLogger('warn', 'rescuer'));
      const events = parseSse((await stack.app.inject(`/v1/experiments/${id}/events`)).body, experimentEventCheck);
      expect(events.at(-1)!.event).toBe('completed');
      const x = (await stack.app.inject(`/v1/experiments/${id}`)).json<ExperimentRecord>();
      expect(x.status).toBe('completed');
      expect(x.counts).toEqual({ completed: 4 });
      expect(x.leaderboard).toHaveLength(4);
      const jobs = await Promise.all(x.trials.map(async (t) => (await stack.app.inject(`/v1/jobs/${t.jobId}`)).json<JobRecord>()));
      expect(jobs.some((j) => j.attempts > 1)).toBe(true);
      for (const [i, j] of jobs.entries()) {
        expect(j.status).toBe('completed');
        expect(j.history.map((h) => h.epoch)).toEqual(Array.from({ length: j.epoch }, (_, e) => e + 1));
        expect(x.trials[i]!.epochs).toBe(j.epoch);
        expect(j.epoch < 30).toBe(j.stoppedBy === 'asha');
      }
      // Each epoch reached the experiment's stream once, resumed trials included.
      for (const t of x.trials) {
        expect(events.filter((e) => e.event === 'trial_epoch' && e.data.trial === t.index).map((e) => e.data.epoch)).toEqual(
          jobs[t.index]!.history.map((h) => h.epoch),
        );
      }
    } finally {
      doomed.kill('SIGKILL');
      await rescuer?.close();
      await stack.close();
    }
  }, 300_000);
});
