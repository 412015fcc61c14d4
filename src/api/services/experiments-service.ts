import { randomUUID } from 'node:crypto';
import type { Config } from '../../config/config.js';
import { type ExperimentController, countStatuses, trialJobId } from '../../queue/experiment-controller.js';
import { ExperimentPlanError, countTrials, emptyProgress, leaderboard, planExperiment, summarize } from '../../planning/index.js';
import {
  type ExperimentCurves,
  type ExperimentRecord,
  type ExperimentSpec,
  type LeaderboardEntry,
  type ResolvedJobSpec,
  type StoredExperimentSpec,
  type StoredJobSpec,
  type StoredSpec,
  type StoredDatasetSpec,
  DATA_SLOTS,
  mapDatasets,
  type Trial,
  type TrialWait,
  EXPERIMENT_TERMINAL_EVENTS,
  experimentListItemSchema,
} from '../../spec/index.js';
import { type ExperimentMeta, type ExperimentState, type ExperimentStore, type TrialDef, emptyState } from '../../store/experiment-store.js';
import type { JobStore } from '../../store/job-store.js';
import { BadRequestError, ConflictError, GoneError, InvalidSpecError, LimitExceededError, NotFoundError } from '../../shared/errors.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import { experimentArtifacts } from '../../storage/artifact-keys.js';
import { InlineDataMissingError, InlineDataWriter, restoreInlineData } from '../../storage/inline-data.js';
import { type EventSink, type EventsService, type FollowedStream, startAfter } from './events-service.js';
import type { JobsService } from './jobs-service.js';
import type { QuotaService } from './quota-service.js';
import type { z } from 'zod';

export interface ExperimentsDeps {
  config: Config;
  artifacts: ArtifactStore;
  store: ExperimentStore;
  jobStore: JobStore;
  jobs: JobsService;
  events: EventsService;
  controller: ExperimentController;
  quotas: QuotaService;
  /** Waits until this process's writes reach REDIS_WAIT_REPLICAS replicas. */
  replicated: () => Promise<void>;
}

/** A planned trial, checked and resolved, before its inline data is stored. */
type ResolvedTrial = Omit<TrialDef, 'spec'> & { spec: ResolvedJobSpec };

/** At most this many trial problems are listed in one 400. */
const MAX_DETAILS = 50;

/** Experiment use cases: submit (every trial checked first), read back, follow, cancel, delete. */
export class ExperimentsService {
  constructor(private readonly d: ExperimentsDeps) {}

  /** Plans, checks and starts an experiment for `tenant`, within its QUOTA_EXPERIMENTS. */
  async submit(spec: ExperimentSpec, tenant: string): Promise<ExperimentRecord> {
    const c = this.d.config;
    // Early refusals, before any planning; the experiments quota is enforced again, atomically, at creation.
    await this.d.quotas.assertExperimentRoom(tenant);
    await this.d.quotas.assertArtifactRoom(tenant);
    const count = countTrials(spec);
    if (count > c.MAX_TRIALS) throw new LimitExceededError([{ limit: 'MAX_TRIALS', path: ['trials'], value: count, max: c.MAX_TRIALS }]);
    let planned: ReturnType<typeof planExperiment>;
    try {
      planned = planExperiment(spec);
    } catch (err) {
      if (err instanceof ExperimentPlanError) throw new InvalidSpecError(err.issues);
      throw err;
    }
    const { plan, issues } = planned;
    const id = randomUUID();
    const problems: { trial: number; params: Record<string, unknown>; path: (string | number)[]; message: string }[] = [...issues];
    const over: ConstructorParameters<typeof LimitExceededError>[0] = [];
    const trials: ResolvedTrial[] = [];
    // Every trial passes the job preflight (the same checks and limits as POST /v1/jobs).
    for (const t of plan.trials) {
      if (problems.length >= MAX_DETAILS) break;
      try {
        const { prepared, cost, exceeds } = await this.d.jobs.preflight(t.spec, tenant);
        if (exceeds.length > 0) over.push(...exceeds.map((e) => ({ ...e, path: ['trials', t.index, ...e.path] })));
        const training = { ...t.spec.training, seed: t.seed, maxRuntimeSeconds: t.spec.training.maxRuntimeSeconds ?? c.MAX_RUNTIME_SECONDS };
        trials.push({ ...t, spec: { ...prepared, training }, cost, jobId: trialJobId(id, t.index) });
      } catch (err) {
        if (!(err instanceof InvalidSpecError)) throw err;
        for (const detail of err.details as { path: (string | number)[]; message: string }[]) problems.push({ trial: t.index, params: t.params, ...detail });
      }
    }
    if (problems.length > 0) {
      const first = problems[0]!;
      throw new BadRequestError(
        'invalid_spec',
        `trial ${first.trial} (${JSON.stringify(first.params)}): ${first.path.join('.')}: ${first.message}` +
          (problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : ''),
        problems.slice(0, MAX_DETAILS),
      );
    }
    if (over.length > 0) throw new LimitExceededError(over);
    const { trials: _planned, ...rest } = plan;
    const createdAt = new Date().toISOString();
    const phase = plan.protocol === 'optimizer-comparison' ? 'tune' : 'search';
    const max = (await this.d.quotas.limits(tenant)).experiments;
    await this.create(
      { id, tenant, name: spec.name ?? null, status: 'running', spec, plan: rest, createdAt, finishedAt: null },
      trials,
      emptyState(phase),
      max,
    );
    // Queues the first trials; were this process to die first, any worker's sweep would.
    await this.d.controller.reconcile(id, { waitMs: 5_000 });
    // A failover before the experiment and its first trials reach a replica would lose what the client was told is running.
    await this.d.replicated();
    return { ...(await this.load(id)), spec };
  }

  /**
   * Records the experiment (while its tenant holds fewer than `max`) with its inline data stored
   * once, under the experiment, for all its trials to reference; the record is charged for it in
   * the same step. Over the tenant's storage quota nothing is stored; a failure to record removes
   * what was.
   */
  private async create(
    meta: Omit<ExperimentMeta, 'spec'> & { spec: ExperimentSpec },
    resolved: ResolvedTrial[],
    state: ExperimentState,
    max: number,
  ): Promise<void> {
    const inline = new InlineDataWriter(experimentArtifacts(meta.id));
    const spec = { ...meta.spec, base: await inline.store(meta.spec.base) } as StoredExperimentSpec;
    const trials = await Promise.all(resolved.map(async (t): Promise<TrialDef> => ({ ...t, spec: await trialData(inline, t, spec.base) })));
    const charge = { datasetBytes: inline.bytes, artifactBytes: inline.bytes };
    // An early refusal before anything is stored; the creation checks it again, atomically.
    if (inline.bytes > 0) await this.d.quotas.assertStorageRoom(meta.tenant, charge);
    const limits = await this.d.quotas.limits(meta.tenant);
    try {
      await inline.write(this.d.artifacts);
      const refused = await this.d.store.create({ ...meta, spec }, trials, state, max, { charge, limits });
      if (refused) throw this.d.quotas.refusal(refused);
    } catch (err) {
      // Not recorded, so not charged: what was stored goes too.
      await inline.discard(this.d.artifacts).catch(() => undefined);
      throw err;
    }
  }

  /** The experiment with its base's inline data read back (a 410 when that data is gone). */
  async get(id: string): Promise<ExperimentRecord> {
    const record = await this.load(id);
    try {
      return { ...record, spec: { ...record.spec, base: await restoreInlineData(this.d.artifacts, record.spec.base) } as ExperimentSpec };
    } catch (err) {
      if (!(err instanceof InlineDataMissingError)) throw err;
      throw new GoneError(
        'inline_data_missing',
        `the inline data of experiment ${id} is gone from the artifact store (${err.ref.artifact}); DELETE removes the experiment`,
      );
    }
  }

  /** The experiment as stored: its base's inline data as references. */
  private async load(id: string): Promise<Omit<ExperimentRecord, 'spec'> & { spec: StoredExperimentSpec }> {
    const meta = await this.d.store.getMeta(id);
    if (!meta) throw new NotFoundError('experiment', id);
    const [defs, state] = await Promise.all([this.d.store.getTrials(id), this.d.store.getState(id)]);
    const trials: Trial[] = defs.map((t) => ({
      index: t.index,
      jobId: t.jobId,
      config: t.config,
      phase: t.phase,
      rerun: t.rerun ?? t.phase === 'rerun',
      optimizer: t.spec.optimizer.name,
      learningRate: t.spec.optimizer.learningRate,
      params: t.params,
      seed: t.seed,
      ...(state?.progress[t.index] ?? emptyProgress()),
      decisions: state?.decisions[t.index] ?? [],
    }));
    const mode = meta.plan.objective.mode;
    return {
      ...this.listItem(meta, trials, state?.phase, state?.waiting),
      spec: meta.spec,
      trials,
      leaderboard: leaderboard(trials, mode),
      summary: summarize(trials, mode),
    };
  }

  private listItem(
    meta: ExperimentMeta,
    trials: Trial[],
    phase: Trial['phase'] | undefined,
    waiting: TrialWait | null | undefined,
  ): z.infer<typeof experimentListItemSchema> {
    return {
      id: meta.id,
      name: meta.name,
      status: meta.status,
      protocol: meta.plan.protocol,
      phase: phase ?? 'search',
      objective: meta.plan.objective,
      createdAt: meta.createdAt,
      finishedAt: meta.finishedAt,
      counts: countStatuses(trials.map((t) => t.status)),
      waitingFor: meta.status === 'running' ? (waiting ?? null) : null,
    };
  }

  /** Newest first; `tenant` undefined lists every tenant's (admin). */
  async list(query: { limit: number; cursor?: number }, tenant: string | undefined) {
    const page = await this.d.store.list({ ...query, ...(tenant === undefined ? {} : { tenant }) });
    const items = await Promise.all(
      page.items.map(async (m) => {
        const record = await this.load(m.id).catch(() => undefined);
        return record ? experimentListItemSchema.parse(record) : undefined;
      }),
    );
    return { items: items.filter((i) => i !== undefined), next: page.next === null ? null : String(page.next) };
  }

  /** Cancels a running experiment and every trial still queued or training; cancelling again is a no-op. */
  async cancel(id: string): Promise<ExperimentRecord> {
    const status = await this.d.store.getStatus(id);
    if (!status) throw new NotFoundError('experiment', id);
    if (status === 'completed') throw new ConflictError('experiment_finished', `experiment ${id} already completed`);
    const cancelled = await this.d.controller.cancel(id, (jobId) => this.cancelTrial(jobId));
    // It completed while the cancel waited for its lock.
    if (!cancelled && (await this.d.store.getStatus(id)) === 'completed') throw new ConflictError('experiment_finished', `experiment ${id} already completed`);
    return this.get(id);
  }

  /** A trial's job that ended (or went) before its cancel landed is left as it is. */
  private async cancelTrial(jobId: string): Promise<void> {
    await this.d.jobs.cancel(jobId).catch((err: unknown) => {
      if (!(err instanceof ConflictError || err instanceof NotFoundError)) throw err;
    });
  }

  /**
   * Deletes an experiment, its trials' jobs and its inline data, and gives the bytes back to its
   * tenant (a running experiment is cancelled first).
   */
  async remove(id: string): Promise<void> {
    const status = await this.d.store.getStatus(id);
    if (!status) throw new NotFoundError('experiment', id);
    if (status === 'running') await this.d.controller.cancel(id, (jobId) => this.cancelTrial(jobId));
    for (const t of await this.d.store.getTrials(id)) {
      if (await this.d.jobStore.exists(t.jobId)) await this.d.jobs.remove(t.jobId).catch(() => undefined);
    }
    await this.d.store.remove(id);
    await this.d.artifacts.delete(experimentArtifacts(id));
  }

  /** One metric per epoch for every trial, aligned on epochs 1..the longest run (null where a trial has none). */
  async curves(id: string, metric: string): Promise<ExperimentCurves> {
    const experiment = await this.load(id);
    const rows = await Promise.all(
      experiment.trials.map(async (t) => {
        const job = await this.d.jobStore.get(t.jobId);
        return { t, history: job?.history ?? [] };
      }),
    );
    const longest = Math.max(0, ...rows.map((r) => r.history.length));
    const epochs = Array.from({ length: longest }, (_, i) => i + 1);
    return {
      metric,
      epochs,
      trials: rows.map(({ t, history }) => {
        const byEpoch = new Map(history.map((h) => [h.epoch, h[metric]]));
        return {
          trial: t.index,
          jobId: t.jobId,
          optimizer: t.optimizer,
          params: t.params,
          seed: t.seed,
          values: epochs.map((e) => {
            const v = byEpoch.get(e);
            return typeof v === 'number' && Number.isFinite(v) ? v : null;
          }),
        };
      }),
    };
  }

  async leaderboardCsv(id: string): Promise<string> {
    const { leaderboard: rows, objective } = await this.load(id);
    return toCsv(rows, objective.metric);
  }

  async openEvents(id: string, lastEventId: string | undefined): Promise<string> {
    const after = startAfter(lastEventId);
    if (!(await this.d.store.getStatus(id))) throw new NotFoundError('experiment', id);
    return after;
  }

  /** True when the client already has the experiment's terminal event (a reconnect then gets 204). */
  eventsDelivered(id: string, after: string): Promise<boolean> {
    return this.d.events.streamDelivered(this.eventStream(id), after);
  }

  followEvents(id: string, after: string, sink: EventSink, signal: AbortSignal): Promise<void> {
    return this.d.events.followStream(this.eventStream(id), after, sink, signal);
  }

  private eventStream(id: string): FollowedStream {
    return {
      key: this.d.store.eventsKey(id),
      read: (from) => this.d.store.readEvents(id, from),
      finished: async () => {
        const status = await this.d.store.getStatus(id);
        return status && status !== 'running';
      },
      isTerminal: (e) => (EXPERIMENT_TERMINAL_EVENTS as readonly string[]).includes(e.type),
    };
  }
}

/**
 * A trial's spec with its inline data stored: the base's reference when no parameter of the
 * trial reaches into its datasets (the usual case: one copy for all trials, and no trial's copy
 * of the arrays is serialised again), else its own data, stored beside (identical data once).
 */
async function trialData(inline: InlineDataWriter, t: { params: Record<string, unknown>; spec: ResolvedJobSpec }, base: StoredSpec): Promise<StoredJobSpec> {
  const reaches = (path: string) => DATA_SLOTS.some((slot) => path === slot || path.startsWith(`${slot}.`) || slot.startsWith(`${path}.`));
  if (Object.keys(t.params).some(reaches)) return inline.store(t.spec);
  const shared = { dataset: base.dataset.inline, 'training.validationData': base.training.validationData?.inline };
  return mapDatasets(t.spec, (d, slot) => (d.inline ? { ...d, inline: shared[slot]! } : (d as StoredDatasetSpec)));
}

const CSV_COLUMNS = [
  'rank',
  'trial',
  'jobId',
  'optimizer',
  'learningRate',
  'params',
  'seed',
  'status',
  'stoppedBy',
  'epochs',
  'best',
  'final',
  'epochsToTarget',
  'secondsToTarget',
] as const;

function toCsv(rows: LeaderboardEntry[], metric: string): string {
  const cell = (v: LeaderboardEntry[(typeof CSV_COLUMNS)[number]]) => {
    const text = v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const header = CSV_COLUMNS.map((c) => (c === 'best' || c === 'final' ? `${c}_${metric}` : c));
  const lines = rows.map((r) => CSV_COLUMNS.map((c) => cell(r[c])).join(','));
  return [header.join(','), ...lines].join('\n') + '\n';
}
