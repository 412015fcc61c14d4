import type { z } from 'zod';
import {
  type EpochReport,
  type JobErrorCode,
  type StoredJobRecord,
  type StoredSpec,
  type JobStatus,
  type ModelCost,
  type NewJobEvent,
  type RequeueReason,
  completedEventDataSchema,
  jobRecordSchema,
  newJobEventSchema,
} from '../spec/index.js';
import type { AppendResult, JobQuotas, JobStore } from './job-store.js';
import type { QuotaUse, Usage } from './tenant-store.js';

/**
 * What a finished training reports. Every field goes into the `completed` event, and each one
 * the job record also has (`preprocessing`, ...) into the record as well: a new result field is
 * one more key in the completed event's schema (and in `jobRecordSchema` when the record keeps it).
 */
export const jobCompletionSchema = completedEventDataSchema.omit({ status: true, at: true, epoch: true, final: true });
export type JobCompletion = z.infer<typeof jobCompletionSchema>;

/**
 * Why a running job goes back to the queue, and the attempt it was on: a shutdown gives that
 * attempt back, a fault has spent it.
 */
export type RequeueCause =
  { reason: 'worker_shutdown'; attempt: number } | { reason: Exclude<RequeueReason, 'worker_shutdown'>; message: string; attempt: number };

export type StartResult =
  | { started: true; attempt: number; resumeEpoch?: number }
  /** Not runnable (`previous`: cancelled, finished, gone), or `failed` now: its last attempt was spent. */
  | { started: false; previous: JobStatus | undefined; failed?: { code: JobErrorCode; message: string } };

export interface TransitionResult {
  ok: boolean;
  previous: JobStatus | undefined;
}

/** A worker's hold on a job: its BullMQ lock key and token (see JobStore.appendEpoch). */
export type LockFence = { lockKey: string; token: string } | undefined;

const RECORD_FIELDS = new Set(Object.keys(jobRecordSchema.shape));

/**
 * The one owner of a job's state: each function moves the job as a named thing happened and
 * writes the record and its events together (one Lua script in the job store), so callers never
 * build a next state or an event payload. Every event is checked against its schema before it
 * is written.
 *
 *   create -> queued -> start -> running -> complete | fail | cancel
 *                    ^                  \-> requeue (shutdown, fault with attempts left)
 *   queued -> cancel | failToEnqueue
 */
export class JobLifecycle {
  constructor(private readonly store: JobStore) {}

  /**
   * Records a new job as queued, with its first event, counted among its tenant's active jobs and
   * charged `charge` (its stored inline data); within `quotas` when given, else refused with the
   * quota it would pass and nothing written (see JobStore.create).
   */
  async create(input: {
    id: string;
    tenant: string;
    name: string | null;
    spec: StoredSpec;
    cost?: ModelCost;
    experiment?: { id: string; trial: number };
    charge?: Partial<Usage>;
    quotas?: JobQuotas;
  }): Promise<QuotaUse | undefined> {
    const createdAt = new Date();
    return this.store.create({ ...input, createdAt }, checked({ type: 'status', data: { status: 'queued', at: createdAt.toISOString() } }));
  }

  /**
   * A worker starts the job (again, after a fault or a shutdown: it resumes from the record's
   * checkpoint). Each start begins a new attempt, except a resume after a shutdown, which gave its
   * attempt back (see requeue); a pick-up of a job still `running` (its worker died) begins one too,
   * unless that was its last one (of `maxAttempts`): then the job fails instead.
   */
  async start(record: StoredJobRecord, worker: string, maxAttempts = Number.POSITIVE_INFINITY): Promise<StartResult> {
    const attempt = record.attempts + 1;
    if (record.status === 'running' && attempt > maxAttempts) {
      const error = { code: 'worker_crashed' as const, message: `the job's worker died on its last attempt (${record.attempts} of ${maxAttempts})` };
      const failed = await this.fail(record.id, error);
      return { started: false, previous: failed.previous, ...(failed.ok ? { failed: error } : {}) };
    }
    const resumeEpoch = record.checkpointEpoch ?? undefined;
    const at = now();
    const resumed = record.startedAt ? { resumed: true as const, fromEpoch: resumeEpoch ?? 0 } : {};
    const result = await this.transition(
      record.id,
      ['queued', 'running'],
      'running',
      { startedAt: record.startedAt ?? at, finishedAt: '', attempts: String(attempt), starts: String(record.starts + 1), error: '' },
      [{ type: 'status', data: { status: 'running', at, attempt, worker, ...resumed } }],
    );
    if (!result.ok) return { started: false, previous: result.previous };
    return { started: true, attempt, ...(resumeEpoch ? { resumeEpoch } : {}) };
  }

  /**
   * Records one finished epoch (and the checkpoint saved with it), fenced by the worker's job
   * lock; see JobStore.appendEpoch.
   */
  async recordEpoch(id: string, report: EpochReport, epochs: number, fence: LockFence, checkpointEpoch?: number): Promise<AppendResult> {
    const { learningRate: _lr, durationMs: _d, ...metrics } = report;
    const event = checked({ type: 'epoch', data: { ...report, epochs } });
    return this.store.appendEpoch(id, metrics, event.data, fence, checkpointEpoch);
  }

  /**
   * A running job goes back to the queue, to resume from its last checkpoint on any worker. A
   * shutdown gives its attempt back (the next start resumes on it); a fault has spent it.
   */
  async requeue(id: string, cause: RequeueCause): Promise<TransitionResult> {
    const at = now();
    if (cause.reason === 'worker_shutdown') {
      const checkpointEpoch = (await this.store.get(id))?.checkpointEpoch ?? null;
      return this.transition(id, ['running'], 'queued', { attempts: String(cause.attempt - 1) }, [
        { type: 'status', data: { status: 'queued', at, reason: cause.reason, checkpointEpoch } },
      ]);
    }
    const { reason, message, attempt } = cause;
    return this.transition(id, ['running'], 'queued', {}, [{ type: 'status', data: { status: 'queued', at, reason, message, attempt } }]);
  }

  /**
   * Training finished: the summary (epochs, final metrics) comes from the record. `trainedBytes`,
   * what the job's training keeps now that it is done (its model), is settled in the same step,
   * so the job's stored bytes and its tenant's usage are final when the completed event is read.
   */
  async complete(id: string, completion: JobCompletion, trainedBytes?: number): Promise<TransitionResult> {
    const at = now();
    const record = await this.store.get(id);
    const fields: Record<string, string> = { finishedAt: at };
    for (const [key, value] of Object.entries(completion)) {
      if (value !== undefined && RECORD_FIELDS.has(key)) fields[key] = typeof value === 'string' ? value : JSON.stringify(value);
    }
    return this.transition(
      id,
      ['running'],
      'completed',
      fields,
      [
        { type: 'status', data: { status: 'completed', at } },
        { type: 'completed', data: { status: 'completed', at, epoch: record?.epoch ?? 0, final: record?.history.at(-1) ?? null, ...completion } },
      ],
      trainedBytes,
    );
  }

  /** A running job failed for good. */
  async fail(id: string, error: { code: JobErrorCode; message: string }): Promise<TransitionResult> {
    return this.finishFailed(id, ['running'], error);
  }

  /**
   * The queue gave up on the job (its attempts or stalls ran out) while its record says it is
   * still queued or running: no run could end it, so it fails now, with its terminal event.
   */
  async abandon(id: string, error: { code: JobErrorCode; message: string }): Promise<TransitionResult> {
    return this.finishFailed(id, ['queued', 'running'], error);
  }

  /** The job was recorded but could not be queued: it fails at once, with its terminal event. */
  async failToEnqueue(id: string, message: string): Promise<TransitionResult> {
    return this.finishFailed(id, ['queued'], { code: 'enqueue_failed', message });
  }

  /** The user cancelled a queued or running job. */
  async cancel(id: string): Promise<TransitionResult> {
    const at = now();
    return this.transition(id, ['queued', 'running'], 'cancelled', { finishedAt: at }, [
      { type: 'status', data: { status: 'cancelled', at } },
      { type: 'cancelled', data: { status: 'cancelled', at } },
    ]);
  }

  private finishFailed(id: string, from: JobStatus[], error: { code: JobErrorCode; message: string }): Promise<TransitionResult> {
    const at = now();
    return this.transition(id, from, 'failed', { finishedAt: at, error: JSON.stringify(error) }, [
      { type: 'status', data: { status: 'failed', at } },
      { type: 'failed', data: { status: 'failed', at, error } },
    ]);
  }

  private transition(
    id: string,
    from: JobStatus[],
    to: JobStatus,
    fields: Record<string, string>,
    events: NewJobEvent[],
    trainedBytes?: number,
  ): Promise<TransitionResult> {
    return this.store.transition(id, from, to, fields, events.map(checked), trainedBytes);
  }
}

const now = () => new Date().toISOString();

/** The event as its schema reads it: a field no schema names fails here, in the writer, not in a client. */
function checked<E extends NewJobEvent>(event: E): E {
  return newJobEventSchema.parse(event) as E;
}
