import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { ExperimentCurves, ExperimentRecord, ExperimentSpecInput, JobRecord } from '../src/spec/index.js';
import {
  type ResolvedScheduler,
  type SchedulerDecision,
  type SchedulerRecords,
  ashaOnResult,
  emptyProgress,
  medianOnResult,
  objectiveValue,
  observeEpoch,
} from '../src/planning/index.js';
import { type SseEvent, eventsUntilEnd, experimentEventCheck, parseSse, startStack, testConfig, xorSpec } from './helpers.js';

const EPOCHS = 9;
const base = xorSpec({ training: { epochs: EPOCHS, batchSize: 4, seed: 1 } });

async function start(app: FastifyInstance, spec: ExperimentSpecInput): Promise<ExperimentRecord> {
  const res = await app.inject({ method: 'POST', url: '/v1/experiments', payload: spec });
  if (res.statusCode !== 202) throw new Error(`submit failed: ${res.statusCode} ${res.body}`);
  return res.json<ExperimentRecord>();
}

/** Follows the experiment's events to their end (the server closes the stream after `completed`). */
async function experimentEvents(app: FastifyInstance, id: string, lastEventId?: string) {
  const res = await app.inject({ method: 'GET', url: `/v1/experiments/${id}/events`, headers: lastEventId ? { 'last-event-id': lastEventId } : {} });
  expect(res.statusCode).toBe(200);
  return parseSse(res.body, experimentEventCheck);
}

const job = async (app: FastifyInstance, id: string) => (await app.inject(`/v1/jobs/${id}`)).json<JobRecord>();

/**
 * The decisions a trial waiting for its verdict after every epoch gets: the trials' epochs replayed
 * through the scheduler in the order the experiment took them in (its trial_epoch events), each
 * trial stopped at the first stop before its last epoch. Returns each trial's decisions and the
 * epoch it ends at.
 */
function replayEveryEpoch(events: SseEvent[], scheduler: ResolvedScheduler, metric: string, epochs: number) {
  const objective = { metric, mode: 'min' as const };
  const records: SchedulerRecords = {};
  const decisions = new Map<number, SchedulerDecision[]>();
  const ends = new Map<number, number>();
  const progress = new Map<number, ReturnType<typeof emptyProgress>>();
  for (const e of events.filter((x) => x.event === 'trial_epoch')) {
    const trial = e.data.trial as number;
    const epoch = e.data.epoch as number;
    if (ends.has(trial)) throw new Error(`trial ${trial} trained epoch ${epoch} after its stop`);
    const p = progress.get(trial) ?? emptyProgress();
    progress.set(trial, p);
    observeEpoch(p, e.data as { epoch: number }, objective);
    const result = { trial, epoch, value: objectiveValue(e.data, objective) };
    const d =
      scheduler.type === 'asha'
        ? ashaOnResult(scheduler, 'min', records, result)
        : scheduler.type === 'median'
          ? medianOnResult(scheduler, 'min', records, { ...result, best: p.best })
          : undefined;
    if (d) decisions.set(trial, [...(decisions.get(trial) ?? []), d]);
    if (d?.action === 'stop' && epoch < epochs) ends.set(trial, epoch);
  }
  return { decisions, ends };
}

/** Five trials: sgd at three learning rates, adam at two. */
const sgdAndAdam = {
  optimizer: {
    choices: [
      { name: 'sgd', learningRate: { values: [0.01, 0.3, 1] } },
      { name: 'adam', learningRate: { values: [0.003, 0.1] } },
    ],
  },
} satisfies Extract<ExperimentSpecInput, { space?: unknown }>['space'];

/** An experiment of 24 trials takes a while on a busy machine. */
const LONG = 300_000;

describe('experiments', () => {
  it(
    "runs 3 optimizers x 4 learning rates x 2 seeds with ASHA: ranked by the trials' own objectives, stopped trials ran fewer epochs",
    async () => {
      const stack = await startStack({ config: testConfig({ WORKER_CONCURRENCY: '2' }) });
      try {
        const rates = { values: [0.003, 0.03, 0.3, 1] };
        const submitted = await start(stack.app, {
          name: 'xor-asha',
          base,
          space: {
            optimizer: {
              choices: [
                { name: 'sgd', learningRate: rates },
                { name: 'momentum', learningRate: rates },
                { name: 'adam', learningRate: rates },
              ],
            },
          },
          seeds: 2,
          objective: { metric: 'loss' },
          scheduler: { type: 'asha', gracePeriod: 1, reductionFactor: 3 },
          maxConcurrentTrials: 2,
        });
        expect(submitted.status).toBe('running');
        expect(submitted.trials).toHaveLength(24);
        expect(submitted.counts).toEqual({ queued: 2, pending: 22 });

        const events = await experimentEvents(stack.app, submitted.id);
        expect(events.at(-1)!.event).toBe('completed');
        const x = (await stack.app.inject(`/v1/experiments/${submitted.id}`)).json<ExperimentRecord>();
        expect(x.status).toBe('completed');
        expect(x.counts).toEqual({ completed: 24 });

        // The leaderboard is the trials sorted by the best loss their own job records show.
        const records = new Map(await Promise.all(x.trials.map(async (t) => [t.index, await job(stack.app, t.jobId)] as const)));
        const ownBest = (i: number) => Math.min(...records.get(i)!.history.map((h) => h.loss!));
        expect(x.leaderboard.map((e) => e.best)).toEqual(x.leaderboard.map((e) => ownBest(e.trial)));
        const sorted = [...x.trials].sort((a, b) => ownBest(a.index) - ownBest(b.index) || a.index - b.index).map((t) => t.index);
        expect(x.leaderboard.map((e) => e.trial)).toEqual(sorted);

        // The same decisions, and the same stops, as trials waiting after every epoch get.
        const replay = replayEveryEpoch(events, { type: 'asha', gracePeriod: 1, reductionFactor: 3, maxEpochs: EPOCHS }, 'loss', EPOCHS);
        for (const t of x.trials) {
          expect(t.decisions, `trial ${t.index}`).toEqual(replay.decisions.get(t.index) ?? []);
          expect(t.epochs, `trial ${t.index}`).toBe(replay.ends.get(t.index) ?? EPOCHS);
        }

        // Stopped trials completed early, at the rung ASHA stopped them; the others ran every epoch.
        const stopped = x.trials.filter((t) => t.stoppedBy === 'asha');
        expect(stopped.length).toBeGreaterThan(0);
        for (const t of x.trials) {
          const r = records.get(t.index)!;
          expect(r).toMatchObject({ status: 'completed', experimentId: x.id, trial: t.index, stoppedBy: t.stoppedBy });
          const stop = t.decisions.find((d) => d.action === 'stop' && d.epoch < EPOCHS);
          if (t.stoppedBy) {
            expect(r.epoch).toBe(stop!.epoch);
            expect(r.epoch).toBeLessThan(EPOCHS);
          } else {
            expect(stop).toBeUndefined();
            expect(r.epoch).toBe(EPOCHS);
          }
          expect(r.history).toHaveLength(r.epoch);
          expect(t.epochs).toBe(r.epoch);
        }

        // The stream: every epoch of every trial, tagged; a trial_stopped per stopped trial.
        const epochEvents = events.filter((e) => e.event === 'trial_epoch');
        for (const t of x.trials)
          expect(epochEvents.filter((e) => e.data.trial === t.index).map((e) => e.data.epoch)).toEqual(records.get(t.index)!.history.map((h) => h.epoch));
        expect(
          events
            .filter((e) => e.event === 'trial_stopped')
            .map((e) => e.data.trial)
            .sort(),
        ).toEqual(stopped.map((t) => t.index).sort());
        const middle = events[Math.floor(events.length / 2)]!;
        expect(await experimentEvents(stack.app, x.id, middle.id)).toEqual(events.slice(events.indexOf(middle) + 1));

        // Trials are ordinary jobs.
        const listed = (await stack.app.inject(`/v1/jobs?experimentId=${x.id}&limit=100`)).json<{ items: JobRecord[] }>();
        expect(listed.items).toHaveLength(24);
        const predict = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${x.leaderboard[0]!.jobId}/predict`, payload: { inputs: [[0, 1]] } });
        expect(predict.statusCode).toBe(200);

        const curves = (await stack.app.inject(`/v1/experiments/${x.id}/curves?metric=loss`)).json<ExperimentCurves>();
        expect(curves.epochs).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
        for (const c of curves.trials) {
          const r = records.get(c.trial)!;
          expect(c.values).toEqual(curves.epochs.map((e) => r.history[e - 1]?.loss ?? null));
        }
        const csv = await stack.app.inject(`/v1/experiments/${x.id}/leaderboard.csv`);
        expect(csv.headers['content-type']).toMatch(/^text\/csv/);
        const lines = csv.body.trim().split('\n');
        expect(lines[0]).toMatch(/^rank,trial,jobId,optimizer,learningRate,/);
        expect(lines.slice(1).map((l) => Number(l.split(',')[1]))).toEqual(x.leaderboard.map((e) => e.trial));
      } finally {
        await stack.close();
      }
    },
    LONG,
  );

  it(
    'median stopping: trials wait for verdicts only from the grace period on, and stop exactly where waiting after every epoch stops them',
    async () => {
      const stack = await startStack({ config: testConfig({ WORKER_CONCURRENCY: '2' }) });
      try {
        const epochs = 6;
        const scheduler = { type: 'median', gracePeriod: 3, minTrials: 1 } as const;
        const submitted = await start(stack.app, {
          base: xorSpec({ training: { epochs, batchSize: 4, seed: 1 } }),
          space: sgdAndAdam,
          objective: { metric: 'loss' },
          scheduler,
          maxConcurrentTrials: 2,
        });
        const events = await experimentEvents(stack.app, submitted.id);
        expect(events.at(-1)!.event).toBe('completed');
        const x = (await stack.app.inject(`/v1/experiments/${submitted.id}`)).json<ExperimentRecord>();
        const replay = replayEveryEpoch(events, scheduler, 'loss', epochs);
        expect(x.trials.filter((t) => t.stoppedBy === 'median').length).toBeGreaterThan(0);
        for (const t of x.trials) {
          expect(t.decisions, `trial ${t.index}`).toEqual(replay.decisions.get(t.index) ?? []);
          expect(t.epochs, `trial ${t.index}`).toBe(replay.ends.get(t.index) ?? epochs);
          expect((await job(stack.app, t.jobId)).epoch).toBe(t.epochs);
          expect(t.stoppedBy).toBe(t.epochs < epochs ? 'median' : null);
        }
      } finally {
        await stack.close();
      }
    },
    LONG,
  );

  it(
    "a trial's epochs reach the experiment's stream before its next decision epoch's verdict and before its end, not at the next sweep",
    async () => {
      // No sweep: what reaches the experiment comes from the trials' own workers.
      const stack = await startStack({ config: testConfig({ WORKER_CONCURRENCY: '2', EXPERIMENT_SWEEP_MS: '600000' }) });
      try {
        // ASHA waits at the rungs 1 and 3; a trial that goes on trains epochs 4 to 9 without waiting.
        const submitted = await start(stack.app, {
          base,
          space: sgdAndAdam,
          objective: { metric: 'loss' },
          scheduler: { type: 'asha', gracePeriod: 1, reductionFactor: 3 },
          maxConcurrentTrials: 2,
        });
        const events = await experimentEvents(stack.app, submitted.id);
        expect(events.at(-1)!.event).toBe('completed');
        const x = (await stack.app.inject(`/v1/experiments/${submitted.id}`)).json<ExperimentRecord>();
        // Stream ids carry the time Redis appended the event: one clock orders both streams' appends.
        const appended = (e: SseEvent) => Number(e.id.split('-')[0]);
        let beforeEnd = 0;
        for (const t of x.trials) {
          const own = await eventsUntilEnd(stack.app, t.jobId);
          const told = events.filter((e) => e.event === 'trial_epoch' && e.data.trial === t.index);
          expect(told.map((e) => e.data.epoch)).toEqual(own.filter((e) => e.event === 'epoch').map((e) => e.data.epoch));
          // The epochs it waited at for a verdict; whatever it did after one came after the verdict.
          const waits = t.decisions.map((d) => d.epoch).filter((epoch) => epoch < EPOCHS);
          for (const e of told) {
            const wait = waits.find((w) => w >= (e.data.epoch as number));
            const after = own.find(
              (j) => ['completed', 'failed', 'cancelled'].includes(j.event) || (j.event === 'epoch' && wait !== undefined && (j.data.epoch as number) > wait),
            );
            expect(appended(e), `trial ${t.index} epoch ${String(e.data.epoch)}`).toBeLessThanOrEqual(appended(after!));
            if (wait === undefined) beforeEnd++;
          }
        }
        // Trials that trained on past their last rung: those epochs were told without any wait.
        expect(beforeEnd).toBeGreaterThan(0);
      } finally {
        await stack.close();
      }
    },
    LONG,
  );

  it.each([
    ['ASHA', undefined],
    ['no scheduler', { type: 'none' as const }],
  ])(
    'runs the optimizer-comparison protocol (%s): tunes each learning rate, reruns the best with the seeds it did not run in full, summarises per optimizer',
    async (_name, scheduler) => {
      const stack = await startStack({ config: testConfig({ WORKER_CONCURRENCY: '2' }) });
      try {
        const submitted = await start(stack.app, {
          protocol: 'optimizer-comparison',
          base: xorSpec({ training: { epochs: 6, batchSize: 4, seed: 3 } }),
          optimizers: ['sgd', 'adam'],
          learningRates: { values: [0.01, 0.3] },
          seeds: 2,
          objective: { metric: 'accuracy', target: 0.75 },
          maxConcurrentTrials: 2,
          ...(scheduler ? { scheduler } : {}),
        });
        expect(submitted.phase).toBe('tune');
        const events = await experimentEvents(stack.app, submitted.id);
        expect(events.at(-1)!.event).toBe('completed');
        const x = (await stack.app.inject(`/v1/experiments/${submitted.id}`)).json<ExperimentRecord>();
        expect(x.phase).toBe('rerun');
        const tuned = x.trials.filter((t) => t.phase === 'tune');
        const reruns = x.trials.filter((t) => t.phase === 'rerun');
        expect(tuned).toHaveLength(4);
        const phase = events.filter((e) => e.event === 'phase');
        expect(phase).toHaveLength(1);
        expect(phase[0]!.data.trials).toEqual(reruns.map((t) => t.index));
        const reused: number[] = [];
        for (const s of x.summary) {
          const own = tuned.filter((t) => t.optimizer === s.optimizer);
          const best = own.reduce((a, b) => ((b.best ?? -1) > (a.best ?? -1) ? b : a));
          expect(s.learningRate).toBe(best.learningRate);
          // The tuning trial stands for the base seed's rerun when it trained every epoch with it; a stopped one is rerun.
          const ranInFull = best.status === 'completed' && best.stoppedBy === null && best.epochs === 6;
          if (ranInFull) reused.push(best.index);
          expect(own.map((t) => t.rerun)).toEqual(own.map((t) => t === best && ranInFull));
          const seeds = reruns.filter((t) => t.optimizer === s.optimizer);
          expect(seeds.map((t) => t.seed)).toEqual(ranInFull ? [4] : [3, 4]);
          expect(
            seeds.every((t) => t.rerun && t.config === best.config && t.learningRate === best.learningRate && t.epochs === 6 && t.stoppedBy === null),
          ).toBe(true);
          const group = [...(ranInFull ? [best] : []), ...seeds];
          expect(s.best.n).toBe(2);
          expect(s.best.mean).toBeCloseTo((group[0]!.best! + group[1]!.best!) / 2, 12);
          expect(s.epochsToTarget.n).toBe(group.filter((t) => t.epochsToTarget !== null).length);
        }
        expect(phase[0]!.data.reused).toEqual(reused);
        // Unstopped, every tuning trial ran in full.
        if (scheduler) expect(reused).toHaveLength(2);
        // No configuration trains twice with one seed.
        const runs = x.trials.map((t) => JSON.stringify([t.optimizer, t.learningRate, t.seed]));
        expect(new Set(runs).size).toBe(runs.length);
        expect(x.trials).toHaveLength(4 + 4 - reused.length);
      } finally {
        await stack.close();
      }
    },
    LONG,
  );

  it('refuses an experiment naming the trial and path of each problem, or over MAX_TRIALS, before queueing anything; cancel and delete cascade', async () => {
    const stack = await startStack({ worker: false, config: testConfig({ MAX_TRIALS: '10' }) });
    try {
      const bad = await stack.app.inject({
        method: 'POST',
        url: '/v1/experiments',
        payload: { base, space: { optimizer: { choices: [{ name: 'adam' }, { name: 'sgd', beta1: { values: [0.9] } }] } }, objective: { metric: 'loss' } },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.details).toEqual([
        expect.objectContaining({ trial: 1, params: { optimizer: { name: 'sgd', beta1: 0.9 } }, path: ['optimizer'] }),
      ]);
      expect(bad.json().error.message).toMatch(/^trial 1 /);
      const tooMany = await stack.app.inject({
        method: 'POST',
        url: '/v1/experiments',
        payload: { base, space: { 'optimizer.learningRate': { values: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] } }, seeds: 2, objective: { metric: 'loss' } },
      });
      expect(tooMany.statusCode).toBe(422);
      expect(tooMany.json().error.details[0]).toMatchObject({ limit: 'MAX_TRIALS', value: 12, max: 10 });
      const noMetric = await stack.app.inject({ method: 'POST', url: '/v1/experiments', payload: { base, objective: { metric: 'val_loss' } } });
      expect(noMetric.statusCode).toBe(400);
      expect(noMetric.json().error.details[0].path).toEqual(['objective', 'metric']);
      expect((await stack.app.inject('/v1/jobs')).json().items).toEqual([]);

      const x = await start(stack.app, {
        base,
        space: { 'optimizer.learningRate': { values: [0.1, 0.2, 0.3] } },
        objective: { metric: 'loss' },
        maxConcurrentTrials: 2,
      });
      const cancelled = (await stack.app.inject({ method: 'POST', url: `/v1/experiments/${x.id}/cancel` })).json<ExperimentRecord>();
      expect(cancelled.status).toBe('cancelled');
      for (const t of cancelled.trials.slice(0, 2)) expect((await job(stack.app, t.jobId)).status).toBe('cancelled');
      expect((await stack.app.inject(`/v1/jobs/${cancelled.trials[2]!.jobId}`)).statusCode).toBe(404);
      const cancelledEvents = await experimentEvents(stack.app, x.id);
      expect(cancelledEvents.at(-1)!.event).toBe('cancelled');
      // A reconnect after the terminal event gets 204, as for jobs.
      const again = await stack.app.inject({ url: `/v1/experiments/${x.id}/events`, headers: { 'last-event-id': cancelledEvents.at(-1)!.id } });
      expect(again.statusCode).toBe(204);
      expect((await stack.app.inject('/v1/experiments')).json().items.map((i: { id: string }) => i.id)).toEqual([x.id]);

      expect((await stack.app.inject({ method: 'DELETE', url: `/v1/experiments/${x.id}` })).statusCode).toBe(204);
      expect((await stack.app.inject(`/v1/experiments/${x.id}`)).statusCode).toBe(404);
      expect((await stack.app.inject(`/v1/jobs/${cancelled.trials[0]!.jobId}`)).statusCode).toBe(404);
    } finally {
      await stack.close();
    }
  });
});
