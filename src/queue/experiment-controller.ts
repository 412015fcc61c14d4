import type { Queue } from 'bullmq';
import {
  type SchedulerDecision,
  ashaOnResult,
  emptyProgress,
  medianOnResult,
  nextDecisionEpoch,
  objectiveValue,
  observeEpoch,
  planReruns,
} from '../planning/index.js';
import { type StoppedBy, type TrialWait, betterThan, isTerminal } from '../spec/index.js';
import { type ExperimentMeta, type ExperimentState, type ExperimentStore, type NewExperimentEvent, type TrialDef } from '../store/experiment-store.js';
import type { JobEvent, JobStore } from '../store/job-store.js';
import type { JobLifecycle } from '../store/job-lifecycle.js';
import { eventIdAfter } from '../store/streams.js';
import type { Quotas, TenantStore } from '../store/tenant-store.js';
import { enqueueTraining, queueTraining } from './enqueue.js';
import type { TrainingJobData } from './queues.js';

export interface ControllerDeps {
  jobs: JobStore;
  lifecycle: JobLifecycle;
  experiments: ExperimentStore;
  trainingQueue: Queue<TrainingJobData>;
  attempts: number;
  tenants: TenantStore;
  /** The quotas of tenants an admin set none for: trials count against them like any job. */
  quotaDefaults: Quotas;
}

/** Job events read per request: a trial's are read to the end of its stream, page by page. */
const PAGE = 500;

/** The experiment's answer to a trial waiting after an epoch: stop there, or the epoch to wait at next (none: train on to the end). */
export interface Verdict {
  stopBy?: StoppedBy;
  next?: number;
}

const ended = (s: string) => s === 'completed' || s === 'failed' || s === 'cancelled';

/**
 * Drives experiments from their trials' job events, in whichever process calls it: after a trial's
 * epoch or end (its worker), periodically for every running experiment (every worker), and at
 * submission (the API). Each reconcile holds the experiment's lock, reads the job events it has not
 * seen, makes the scheduler's decisions about them, queues trials into free slots, and commits
 * all of it at once; its actions (queueing a trial, asking one to stop) are idempotent and derived
 * from the committed state, so a process dying at any point loses nothing: the next reconcile,
 * anywhere, repeats what did not land.
 */
export class ExperimentController {
  /** The background reconciles of this process, one chain per experiment (reconcileSoon). */
  private readonly soon = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(private readonly d: ControllerDeps) {}

  /**
   * Reconciles the experiment in the background, so what its trials just did (an epoch between
   * two of its decision epochs, a start) reaches its stream at once, while the trial trains on.
   * One reconcile per experiment at a time in this process: asks made while one runs are answered
   * by a single reconcile after it, which reads everything recorded meanwhile. Decisions are the
   * ones any reconcile makes (in event order, under the lock), so these change when, not what.
   */
  reconcileSoon(id: string, onError: (err: unknown) => void): void {
    const running = this.soon.get(id);
    if (running) {
      running.again = true;
      return;
    }
    const chain = { again: true, done: Promise.resolve() };
    this.soon.set(id, chain);
    chain.done = (async () => {
      while (chain.again) {
        chain.again = false;
        try {
          const status = await this.reconcile(id, { waitMs: 5_000 });
          if (status === 'absent' || status === 'finished') break;
        } catch (err) {
          onError(err);
        }
      }
      this.soon.delete(id);
    })();
  }

  /**
   * Resolves once this process's background reconciles of the experiment (of every experiment
   * without an id) have run: what was asked before is in its stream then.
   */
  async settled(id?: string): Promise<void> {
    await Promise.all([...this.soon].filter(([key]) => id === undefined || key === id).map(([, chain]) => chain.done));
  }

  /** Reconciles one experiment; 'busy' when another process held its lock for all of `waitMs`. */
  async reconcile(id: string, options: { waitMs?: number } = {}): Promise<'ok' | 'busy' | 'absent' | 'finished'> {
    return (await this.reconcileThen(id, options.waitMs ?? 0, () => undefined)).status;
  }

  /**
   * After a trial's epoch at which its scheduler may stop it was recorded (by its worker, while the
   * trial waits): decides about it, and answers whether the trial stops now and, if not, the next
   * epoch at which it must wait again. Decisions are made in event order whenever a reconcile runs,
   * so waiting only at these epochs stops every trial exactly where waiting after each epoch did.
   * When no decision can be had (the lock stayed busy, an error), the trial waits again at the
   * next epoch.
   */
  async afterTrialEpoch(experimentId: string, trial: number, epoch: number): Promise<Verdict> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { status, value } = await this.reconcileThen(experimentId, 5_000, (meta, state, trials) => {
        const t = trials.find((x) => x.index === trial);
        const stopBy = state.stops[trial];
        if (stopBy) return { stopBy };
        const next = t && t.scheduled ? nextDecisionEpoch(meta.plan.scheduler, state.records, trial, epoch, t.spec.training.epochs) : undefined;
        return next === undefined ? {} : { next };
      });
      if (status === 'ok') return value ?? { next: epoch + 1 };
      if (status !== 'busy') return {};
    }
    return { next: epoch + 1 };
  }

  /**
   * The first epoch at which a trial starting (or resuming after `resumedAt`) must wait for its
   * experiment's verdict; undefined when its scheduler never stops it. A resumed trial waits after
   * its first epoch, where the decisions its last worker did not wait for are caught up.
   */
  async firstVerdictEpoch(experimentId: string, trial: number, resumedAt?: number): Promise<number | undefined> {
    const [meta, t] = await Promise.all([this.d.experiments.getMeta(experimentId), this.d.experiments.getTrial(experimentId, trial)]);
    if (!meta || meta.status !== 'running' || !t?.scheduled) return undefined;
    const first = nextDecisionEpoch(meta.plan.scheduler, {}, trial, 0, t.spec.training.epochs);
    if (first === undefined || !resumedAt) return first;
    return resumedAt + 1 < t.spec.training.epochs ? resumedAt + 1 : undefined;
  }

  /** Under the experiment's lock: one reconcile, then `then` on the state it committed. */
  private async reconcileThen<T>(
    id: string,
    waitMs: number,
    then: (meta: ExperimentMeta, state: ExperimentState, trials: TrialDef[]) => T,
  ): Promise<{ status: 'ok' | 'busy' | 'absent' | 'finished'; value?: T }> {
    const token = await this.d.experiments.lock(id, waitMs);
    if (!token) return { status: 'busy' };
    try {
      const meta = await this.d.experiments.getMeta(id);
      if (!meta) return { status: 'absent' };
      if (meta.status !== 'running') return { status: 'finished' };
      const committed = await this.step(meta, token);
      return { status: 'ok', ...(committed ? { value: then(meta, committed.state, committed.trials) } : {}) };
    } finally {
      await this.d.experiments.unlock(id, token);
    }
  }

  /** Reconciles every running experiment whose lock is free (a periodic sweep any process may run). */
  async reconcileActive(): Promise<void> {
    for (const id of await this.d.experiments.activeIds()) await this.reconcile(id);
  }

  /**
   * Cancels a running experiment and every trial of it not yet ended, under its lock (so no trial is
   * queued meanwhile): each trial job still queued or running is cancelled with `cancelJob`, then
   * what every trial job did up to its end is read (a trial that finished before its cancel landed
   * ends as it finished), a trial never queued ends cancelled, and the experiment ends `cancelled`
   * with the counts, all in one commit. False when it was not running.
   */
  async cancel(id: string, cancelJob: (jobId: string) => Promise<void>): Promise<boolean> {
    const token = await this.d.experiments.lock(id, 10_000);
    if (!token) throw new Error(`experiment ${id} stayed locked`);
    try {
      const meta = await this.d.experiments.getMeta(id);
      if (meta?.status !== 'running') return false;
      const state = (await this.d.experiments.getState(id))!;
      const trials = await this.d.experiments.getTrials(id);
      const events: NewExperimentEvent[] = [];
      for (const t of trials) {
        const p = (state.progress[t.index] ??= emptyProgress());
        if (ended(p.status)) continue;
        const status = await this.d.jobs.getStatus(t.jobId);
        if (status === undefined && p.status === 'pending') {
          p.status = 'cancelled';
          events.push({ type: 'trial_ended', data: { trial: t.index, jobId: t.jobId, status: 'cancelled', epochs: 0, stoppedBy: null, error: null } });
          continue;
        }
        // A job queued by a reconcile whose commit did not land: it is read like any other.
        if (p.status === 'pending') p.status = 'queued';
        if (status === 'queued' || status === 'running') await cancelJob(t.jobId);
      }
      await this.readJobEvents(meta, state, trials, events);
      const at = new Date().toISOString();
      const counts = countStatuses(trials.map((t) => state.progress[t.index]!.status));
      events.push({ type: 'cancelled', data: { status: 'cancelled', at, counts } });
      state.waiting = null;
      const result = await this.d.experiments.commit(id, token, {
        state,
        trials: [],
        fields: { status: 'cancelled', finishedAt: at },
        leaveActive: true,
        events,
      });
      if (result !== 'ok') throw new Error(`experiment ${id}: the cancel could not commit (${result})`);
      return true;
    } finally {
      await this.d.experiments.unlock(id, token);
    }
  }

  /** One reconcile; returns the state and trials it committed (undefined when the commit did not land). */
  private async step(meta: ExperimentMeta, token: string): Promise<{ state: ExperimentState; trials: TrialDef[] } | undefined> {
    const id = meta.id;
    const state = (await this.d.experiments.getState(id))!;
    const trials = await this.d.experiments.getTrials(id);
    const events: NewExperimentEvent[] = [];
    const progressOf = (t: TrialDef) => (state.progress[t.index] ??= emptyProgress());

    // 1. What happened to the trials since the last reconcile, in the order it happened.
    await this.readJobEvents(meta, state, trials, events);

    // 2. The protocol's second phase, once every tuning trial has ended.
    const added: TrialDef[] = [];
    const updated: TrialDef[] = [];
    if (meta.plan.protocol === 'optimizer-comparison' && state.phase === 'tune' && trials.every((t) => ended(progressOf(t).status))) {
      const best = new Map<string, TrialDef>();
      for (const t of trials) {
        const b = best.get(t.spec.optimizer.name);
        if (betterThan(progressOf(t).best, b ? progressOf(b).best : null, meta.plan.objective.mode)) best.set(t.spec.optimizer.name, t);
      }
      const chosen = [...best.values()];
      const reruns = planReruns(
        chosen.map((t) => ({ ...t, progress: progressOf(t) })),
        meta.plan.rerunSeeds,
        trials.length,
      );
      for (const { tuned, ...plan } of reruns.trials) {
        const cost = chosen[tuned]!.cost;
        added.push({ ...plan, jobId: trialJobId(id, plan.index), ...(cost ? { cost } : {}) });
      }
      // A tuning trial that stands for a rerun seed is written again, saying so.
      for (const t of chosen) if (reruns.reused.includes(t.index)) updated.push(Object.assign(t, { rerun: true }));
      state.phase = 'rerun';
      events.push({ type: 'phase', data: { phase: 'rerun', trials: added.map((t) => t.index), reused: reruns.reused } });
    }
    const all = [...trials, ...added];

    // 3. Trials into the free slots, lowest number first, each within its tenant's quotas: one
    // that finds no room waits (and the ones after it) until a later reconcile finds some.
    let active = all.filter((t) => ['queued', 'running'].includes(progressOf(t).status)).length;
    let waiting: TrialWait | null = null;
    for (const t of all) {
      if (active >= meta.plan.maxConcurrentTrials) break;
      const p = progressOf(t);
      if (p.status !== 'pending') continue;
      waiting = await this.launch(meta, t);
      if (waiting) break;
      p.status = 'queued';
      active++;
    }
    // Told once per trial and quota, not at every periodic reconcile.
    if (waiting && (state.waiting?.trial !== waiting.trial || state.waiting.quota !== waiting.quota)) events.push({ type: 'trial_waiting', data: waiting });
    state.waiting = waiting;

    // 4. Stops the scheduler decided, for trials still training.
    for (const [index, by] of Object.entries(state.stops)) {
      const t = all[Number(index)]!;
      if (!ended(progressOf(t).status)) await this.d.jobs.requestStop(t.jobId, by);
    }

    // 5. Done when every trial ended and no phase follows.
    const fields: Record<string, string> = {};
    const done = all.every((t) => ended(progressOf(t).status)) && !(meta.plan.protocol === 'optimizer-comparison' && state.phase === 'tune');
    if (done) {
      const at = new Date().toISOString();
      Object.assign(fields, { status: 'completed', finishedAt: at });
      events.push({ type: 'completed', data: { status: 'completed', at, counts: countStatuses(all.map((t) => progressOf(t).status)) } });
    }
    const committed = await this.d.experiments.commit(id, token, { state, trials: [...updated, ...added], fields, leaveActive: done, events });
    return committed === 'ok' ? { state, trials: all } : undefined;
  }

  /** Folds in what the trials' jobs did since the last reconcile (their events not read yet), in the order it happened. */
  private async readJobEvents(meta: ExperimentMeta, state: ExperimentState, trials: TrialDef[], events: NewExperimentEvent[]): Promise<void> {
    const fresh: { trial: TrialDef; event: JobEvent }[] = [];
    for (const t of trials) {
      const p = (state.progress[t.index] ??= emptyProgress());
      if (p.status === 'pending' || ended(p.status)) continue;
      const read: JobEvent[] = [];
      for (let page = PAGE; page === PAGE;) {
        const more = await this.d.jobs.readEvents(t.jobId, read.at(-1)?.id ?? state.cursors[t.index] ?? '0', { count: PAGE });
        read.push(...more);
        page = more.length;
      }
      if (read.length === 0 && !(await this.d.jobs.exists(t.jobId))) {
        // Its job was deleted: the trial can never report again.
        p.status = 'cancelled';
        p.error = 'deleted';
        events.push({
          type: 'trial_ended',
          data: { trial: t.index, jobId: t.jobId, status: 'cancelled', epochs: p.epochs, stoppedBy: null, error: 'deleted' },
        });
      }
      for (const event of read) fresh.push({ trial: t, event });
    }
    fresh.sort((a, b) => (a.event.id === b.event.id ? 0 : eventIdAfter(a.event.id, b.event.id) ? 1 : -1));
    for (const { trial: t, event } of fresh) {
      state.cursors[t.index] = event.id;
      this.observe(meta, state, t, event, events);
    }
  }

  /** Folds one job event of a trial into the state, and the scheduler's decision about it. */
  private observe(meta: ExperimentMeta, state: ExperimentState, t: TrialDef, event: JobEvent, events: NewExperimentEvent[]): void {
    const p = state.progress[t.index]!;
    const tag = { trial: t.index, jobId: t.jobId };
    switch (event.type) {
      case 'status': {
        const { status, attempt } = event.data;
        if (!isTerminal(status)) p.status = status;
        if (status === 'running') events.push({ type: 'trial_started', data: { ...tag, attempt: attempt ?? 1, params: t.params, seed: t.seed } });
        return;
      }
      case 'epoch': {
        const epoch = event.data;
        const objective = meta.plan.objective;
        observeEpoch(p, epoch, objective);
        events.push({ type: 'trial_epoch', data: { ...tag, ...epoch } });
        const scheduler = meta.plan.scheduler;
        if (!t.scheduled || scheduler.type === 'none' || state.stops[t.index]) return;
        const result = { trial: t.index, epoch: epoch.epoch, value: objectiveValue(epoch, objective) };
        const decision: SchedulerDecision | undefined =
          scheduler.type === 'asha'
            ? ashaOnResult(scheduler, objective.mode, state.records, result)
            : medianOnResult(scheduler, objective.mode, state.records, { ...result, best: p.best });
        if (!decision) return;
        (state.decisions[t.index] ??= []).push(decision);
        // A decision at the last epoch changes nothing: the trial is done anyway.
        if (decision.action === 'stop' && epoch.epoch < t.spec.training.epochs) {
          state.stops[t.index] = scheduler.type;
          events.push({ type: 'trial_stopped', data: { ...tag, stoppedBy: scheduler.type, decision } });
        }
        return;
      }
      case 'completed':
        p.stoppedBy = event.data.stoppedBy ?? null;
        break;
      case 'failed':
        p.error = event.data.error.code;
        break;
      case 'cancelled':
        break;
    }
    p.status = event.type;
    events.push({ type: 'trial_ended', data: { ...tag, status: event.type, epochs: p.epochs, stoppedBy: p.stoppedBy, error: p.error } });
  }

  /**
   * Queues a trial's job; safe to repeat (an existing record is kept, BullMQ dedupes the job id).
   * A new job is admitted like any job of its tenant (JobsService.enqueue): none while the
   * tenant's artifacts fill its quota, and only into a free queued-plus-running slot; otherwise
   * it is not created, and the quota that stopped it is returned.
   */
  private async launch(meta: ExperimentMeta, t: TrialDef): Promise<TrialWait | null> {
    const status = await this.d.jobs.getStatus(t.jobId);
    const input = { id: t.jobId, tenant: meta.tenant, spec: t.spec, experiment: { id: meta.id, trial: t.index } };
    if (status === 'queued') await queueTraining(this.d, input);
    if (status !== undefined) return null;
    const tag = { trial: t.index, jobId: t.jobId };
    const [limits, usage] = await Promise.all([this.d.tenants.limits(meta.tenant, this.d.quotaDefaults), this.d.tenants.usage(meta.tenant)]);
    if (usage.artifactBytes >= limits.artifactBytes) return { ...tag, quota: 'artifactBytes', used: usage.artifactBytes, limit: limits.artifactBytes };
    const slots = await this.d.tenants.activeBelow(meta.tenant, limits.activeJobs, (id) => this.d.jobs.getStatus(id));
    if (!slots.room) return { ...tag, quota: 'activeJobs', used: slots.active, limit: limits.activeJobs };
    // The record is written only into a free slot, checked again in the same step (JobStore.create).
    const refused = await enqueueTraining(this.d, { ...input, quotas: limits, ...(t.cost ? { cost: t.cost } : {}) });
    // A trial's data is its experiment's (charged to it): only a full activeJobs refuses it here.
    return refused ? { ...tag, quota: 'activeJobs', used: refused.used, limit: refused.limit } : null;
  }
}

/** A trial's job id: fixed when the trial is planned, so queueing it twice creates one job. */
export const trialJobId = (experimentId: string, trial: number) => `${experimentId}-t${trial}`;

export function countStatuses(statuses: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}
