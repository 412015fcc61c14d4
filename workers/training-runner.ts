import { fork, type ChildProcess } from 'node:child_process';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { RedisKeys } from '../src/store/keys.js';
import type { ArtifactStore } from '../src/storage/artifact-store.js';
import { artifactStoreSettings } from '../src/storage/open-artifact-store.js';
import { deleteCheckpoints } from '../src/training/checkpoint.js';
import { modelBytes, trainingBytes } from '../src/storage/artifact-sizes.js';
import type { Config } from '../src/config/config.js';
import type { JobStore } from '../src/store/job-store.js';
import { JobLifecycle, type LockFence } from '../src/store/job-lifecycle.js';
import type { TrainingJobData } from '../src/queue/queues.js';
import type { EpochReport, StoredJobSpec } from '../src/spec/index.js';
import { resolveEntry } from '../src/shared/entry.js';
import { residentBytes } from '../src/shared/process-memory.js';
import type { Logger } from '../src/shared/logger.js';
import { DESCENT_VERSION } from '../src/shared/versions.js';
import type { ExperimentController, Verdict } from '../src/queue/experiment-controller.js';
import type { ChildMessage, ParentMessage } from './child-protocol.js';
import { type Kill, type Outcome, type RunFacts, decideOutcome } from './training-outcome.js';

interface Active {
  child: ChildProcess;
  cancelled: boolean;
  /** The worker is shutting down: the job goes back to the queue. */
  shutdown?: boolean;
  /** The job lock went to another worker. */
  lost?: boolean;
  /** Why the worker killed the child itself, when it did. */
  killed?: Kill;
  killTimer?: NodeJS.Timeout;
}

/** A job this worker has started: what supervising and finishing it need. */
interface Claim {
  jobId: string;
  spec: TrainingJobData['spec'];
  attempt: number;
  maxAttempts: number;
  /** Continue from the checkpoint of this epoch. */
  resumeEpoch?: number;
  /** The experiment trial's number, for a trial. */
  trial?: number;
  fence: LockFence;
  log: Logger;
}

export interface TrainingOutcome {
  status: 'completed' | 'cancelled' | 'skipped';
}

const CHILD = resolveEntry(import.meta.url, './training-child');

/**
 * A job could not be started: its record could not be read or moved to running. BullMQ retries
 * it like any failed attempt; once it gives up, the job fails as `start_failed` (worker-app).
 */
export class JobStartError extends Error {
  constructor(cause: unknown) {
    super(`the job could not be started: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'JobStartError';
  }
}

/**
 * Runs BullMQ training jobs: each in a child process of its own, relaying the child's epochs
 * into the job record and its event stream. The worker's own event loop stays free, so BullMQ
 * keeps renewing the job lock while the child computes.
 */
export class TrainingRunner {
  private readonly active = new Map<string, Active>();
  /** Started training processes waiting for a job: a spare, or one that finished a job cleanly. */
  private readonly idle: ChildProcess[] = [];
  private stopped = false;

  private readonly lifecycle: JobLifecycle;

  constructor(
    private readonly store: JobStore,
    private readonly keys: RedisKeys,
    private readonly artifacts: ArtifactStore,
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly workerId: string,
    private readonly experiments?: ExperimentController,
    /** Told of every epoch the child reports (the worker's metrics). */
    private readonly onEpoch?: (report: EpochReport, spec: StoredJobSpec) => void,
  ) {
    this.lifecycle = new JobLifecycle(store);
  }

  get activeJobs(): string[] {
    return [...this.active.keys()];
  }

  /** Process id of the child training a job (for operators and fault tests). */
  trainingPid(jobId: string): number | undefined {
    return this.active.get(jobId)?.child.pid;
  }

  /** Stops a running job's training: asks the child, then kills it after the grace period. */
  cancel(jobId: string): void {
    const entry = this.active.get(jobId);
    if (!entry || entry.cancelled) return;
    entry.cancelled = true;
    entry.child.send({ type: 'cancel' } satisfies ParentMessage, () => {});
    entry.killTimer = setTimeout(() => entry.child.kill('SIGKILL'), this.config.CANCEL_GRACE_MS);
  }

  /**
   * Shutdown: every child stops at its next batch boundary (killed after `graceMs`) and its job
   * goes back to the queue, to resume from its last checkpoint on any worker.
   */
  stopAll(graceMs: number): void {
    this.stopped = true;
    for (const child of this.idle.splice(0)) child.kill('SIGKILL');
    for (const entry of this.active.values()) {
      entry.shutdown = true;
      entry.child.send({ type: 'cancel' } satisfies ParentMessage, () => {});
      entry.killTimer = setTimeout(() => entry.child.kill('SIGKILL'), graceMs);
    }
  }

  /**
   * A training process for the next job. A started one (TensorFlow loaded) waits for it: at first
   * a spare, then the process of a job that completed cleanly, left no tensor behind and uses no
   * more than half its memory limit (`keep`), so a trial does not pay for a process and a native
   * library. A job still trains alone in its process, so a crash or a kill takes only that
   * job; a job that ended any other way takes its process with it. With WORKER_CONCURRENCY above
   * 1, jobs beyond the waiting processes start a process of their own.
   */
  private takeChild(): ChildProcess {
    for (let child = this.idle.pop(); child; child = this.idle.pop()) if (child.exitCode === null && child.signalCode === null) return child;
    return this.forkChild();
  }

  private forkChild(): ChildProcess {
    const child = fork(CHILD.path, [this.config.TFJS_BACKEND], {
      execArgv: [...CHILD.execArgv, `--max-old-space-size=${this.config.CHILD_MAX_MEMORY_MB}`],
      serialization: 'advanced',
      stdio: 'inherit',
    });
    child.once('exit', () => {
      const i = this.idle.indexOf(child);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return child;
  }

  /** Starts a spare training process ahead of the next job, unless one waits already. */
  warmUp(): void {
    if (this.idle.length === 0 && !this.stopped) this.idle.push(this.forkChild());
  }

  /** Whether the process of a job that completed cleanly waits for the next job (else it is ended). */
  private keep(child: ChildProcess, entry: Active, writeError: unknown): boolean {
    if (this.stopped || entry.cancelled || entry.shutdown || entry.lost || entry.killed || writeError !== undefined) return false;
    if (this.idle.length >= this.config.WORKER_CONCURRENCY) return false;
    const rss = residentMb(child.pid);
    if (rss === undefined || rss > this.config.CHILD_MAX_MEMORY_MB / 2) return false;
    this.idle.push(child);
    return true;
  }

  /**
   * Trains one job: claims it, supervises its training process, then applies the outcome. A
   * trial's end is reported to its experiment, which may queue the next trial.
   */
  readonly process = async (job: Job<TrainingJobData>, token?: string): Promise<TrainingOutcome> => {
    const experimentId = job.data.experimentId;
    try {
      const claim = await this.claim(job, token).catch((err: unknown) => {
        throw new JobStartError(err);
      });
      if (!claim) return { status: 'skipped' };
      // Its trial_started reaches the experiment's stream now, not with its first decision.
      this.tellExperiment(experimentId);
      try {
        // What an earlier attempt, killed, left in the store is counted before this one adds to it.
        await this.settleStored(claim);
        const facts = await this.supervise(claim, experimentId);
        return await this.apply(decideOutcome(facts), claim, job, token);
      } finally {
        // Whatever the outcome: the model written, checkpoints deleted (completed) or kept (to resume, or failed).
        await this.settleStored(claim);
      }
    } finally {
      if (experimentId && this.experiments) {
        // A failure here loses nothing: the periodic reconcile of running experiments repeats it.
        await this.experiments
          .reconcile(experimentId, { waitMs: 5_000 })
          .catch((err: unknown) => this.logger.warn({ err, experimentId }, 'experiment reconcile failed'));
      }
    }
  };

  /** Moves the job to running (a new attempt), unless it is no longer runnable (cancelled, gone). */
  private async claim(job: Job<TrainingJobData>, token: string | undefined): Promise<Claim | undefined> {
    const { jobId, spec } = job.data;
    const record = await this.store.get(jobId);
    if (!record) return undefined;
    const start = await this.lifecycle.start(record, this.workerId, job.opts.attempts ?? 1);
    if (!start.started) {
      if (start.failed) this.logger.warn({ jobId, error: start.failed }, 'job failed: no attempt left');
      else this.logger.info({ jobId, status: start.previous }, 'job is no longer runnable; skipped');
      // Its worker died after completing it and before deleting its checkpoints (see apply).
      if (start.previous === 'completed') {
        const log = this.logger.child({ jobId });
        await this.dropCheckpoints(jobId, log);
        await this.settleStored({ jobId, log });
      }
      return undefined;
    }
    // The request id of the submission ties the job's logs to the API's.
    const log = this.logger.child({ jobId, attempt: start.attempt, ...(job.data.requestId ? { reqId: job.data.requestId } : {}) });
    log.info('training started');
    return {
      jobId,
      spec,
      attempt: start.attempt,
      maxAttempts: job.opts.attempts ?? 1,
      ...(start.resumeEpoch ? { resumeEpoch: start.resumeEpoch } : {}),
      ...(record.trial !== null ? { trial: record.trial } : {}),
      fence: token ? { lockKey: this.keys.trainingLock(jobId), token } : undefined,
      log,
    };
  }

  /**
   * Runs the job's training process to its end: relays its epochs to the job record in order
   * (the write queue), ends it on the deadline, the memory limit, a lost lock or a lost Redis,
   * and reports what happened.
   */
  private async supervise(claim: Claim, experimentId: string | undefined): Promise<RunFacts> {
    const { jobId, spec, fence, log } = claim;
    const child = this.takeChild();
    const entry: Active = { child, cancelled: false };
    this.active.set(jobId, entry);
    // A trial its scheduler may stop waits for the experiment's verdict at this epoch, then where each verdict says.
    let verdictAt = experimentId && claim.trial !== undefined ? await this.firstVerdict(experimentId, claim.trial, claim.resumeEpoch) : undefined;
    let writes = Promise.resolve();
    let writeError: unknown;
    // Records go to Redis in order; if one cannot be written (Redis down), training stops and
    // the job is retried from its last checkpoint rather than computing epochs nobody records.
    const enqueue = (fn: () => Promise<unknown>): void => {
      writes = writes
        .then(() => (writeError === undefined ? fn() : undefined))
        .then(
          () => undefined,
          (err: unknown) => {
            writeError ??= err;
            child.kill('SIGKILL');
          },
        );
    };
    let result: RunFacts['result'];
    let kept: () => void = () => {};

    const onMessage = (msg: ChildMessage) => {
      switch (msg.type) {
        case 'started':
          enqueue(() =>
            this.store.setFields(jobId, {
              backend: msg.backend,
              versions: JSON.stringify({ descent: DESCENT_VERSION, node: process.versions.node, ...msg.versions }),
            }),
          );
          if (msg.fallbackReason) log.debug({ reason: msg.fallbackReason }, 'native TensorFlow unavailable; training on cpu');
          break;
        case 'engine':
          enqueue(() => this.store.setFields(jobId, { engine: JSON.stringify(msg.engine) }));
          if (msg.engine.fallbackReason) log.info({ reason: msg.engine.fallbackReason }, 'training on the eager engine');
          break;
        case 'epoch': {
          this.onEpoch?.(msg.report, spec);
          const epoch = msg.report.epoch;
          const waiting = epoch === verdictAt;
          enqueue(async () => {
            const outcome = await this.lifecycle.recordEpoch(jobId, msg.report, spec.training.epochs, fence, msg.checkpoint);
            // A checkpoint was written (and older ones deleted) before the child reported the epoch.
            if (msg.checkpoint !== undefined && outcome !== 'lock_lost') await this.settleStored(claim);
            if (outcome === 'lock_lost') {
              // Another worker owns the job now: stop, and write nothing more.
              entry.lost = true;
              child.kill('SIGKILL');
            }
            // Not running any more: cancelled, and the broadcast did not reach this worker.
            if (outcome === 'not_running') this.cancel(jobId);
            if (outcome === 'appended' && !waiting) this.tellExperiment(experimentId);
            if (waiting) {
              // The trial waits for this: its experiment's scheduler decides about the epoch first.
              // An epoch recorded before (recomputed after a resume) was decided about then: wait again after the next.
              const verdict = outcome === 'appended' ? await this.verdict(experimentId!, claim.trial!, epoch) : { next: epoch + 1 };
              verdictAt = verdict.next;
              child.send({ type: 'verdict', epoch, ...verdict } satisfies ParentMessage, () => {});
            }
          });
          break;
        }
        default:
          result = msg;
          if (msg.type === 'done' && msg.reusable) kept();
      }
    };
    child.on('message', onMessage);
    child.send({
      type: 'train',
      jobId,
      spec,
      store: artifactStoreSettings(this.config),
      checkpointEvery: this.config.CHECKPOINT_EVERY_EPOCHS,
      checkpointMinIntervalMs: this.config.CHECKPOINT_MIN_INTERVAL_MS,
      ...(claim.resumeEpoch ? { resumeEpoch: claim.resumeEpoch } : {}),
      ...(verdictAt !== undefined ? { verdictAt } : {}),
    } satisfies ParentMessage);
    const kill = (code: Kill['code'], message: string) => {
      entry.killed ??= { code, message };
      child.kill('SIGKILL');
    };
    // A stuck native op never returns to the child's event loop; only the parent can end it.
    const deadline = setTimeout(
      () => kill('timeout', `training ran longer than maxRuntimeSeconds=${spec.training.maxRuntimeSeconds}`),
      spec.training.maxRuntimeSeconds * 1000,
    );
    const limitMb = this.config.CHILD_MAX_MEMORY_MB;
    const memoryWatch = setInterval(() => {
      const rss = residentMb(child.pid);
      if (rss !== undefined && rss > limitMb) kill('out_of_memory', `the training process used ${rss} MB, over CHILD_MAX_MEMORY_MB=${limitMb}`);
    }, 500);

    // The job ends with its process, or with a completed job whose process is clean (it waits for another).
    let onExit: (code: number | null, signal: NodeJS.Signals | null) => void = () => {};
    const ending = await new Promise<RunFacts['exit'] | 'reusable'>((resolve) => {
      onExit = (code, signal) => resolve({ code, signal });
      child.once('exit', onExit);
      kept = () => resolve('reusable');
    });
    child.off('exit', onExit);
    clearTimeout(entry.killTimer);
    clearTimeout(deadline);
    clearInterval(memoryWatch);
    this.active.delete(jobId);
    await writes;
    // Every epoch is in the experiment's stream before the trial's end is recorded.
    if (experimentId) await this.experiments?.settled(experimentId);
    child.off('message', onMessage);
    if (ending !== 'reusable' || !this.keep(child, entry, writeError)) {
      if (ending === 'reusable') child.kill('SIGKILL');
      // The next spare starts once this job's process is gone, so loading TensorFlow does not
      // compete with the job's first epochs for the cores.
      this.warmUp();
    }
    const exit = ending === 'reusable' ? { code: null, signal: null } : ending;
    return {
      exit,
      ...(result ? { result } : {}),
      cancelled: entry.cancelled,
      shutdown: entry.shutdown ?? false,
      lockLost: entry.lost ?? false,
      ...(writeError !== undefined ? { writeError } : {}),
      ...(entry.killed ? { killed: entry.killed } : {}),
      attempt: claim.attempt,
      maxAttempts: claim.maxAttempts,
      heapLimitMb: limitMb,
    };
  }

  /**
   * Charges the job (and its tenant's artifactBytes) with what its training holds in the store
   * now, measured (see trainingBytes); a failure is logged, and the next measure makes up for it.
   */
  private async settleStored(claim: Pick<Claim, 'jobId' | 'log'>): Promise<void> {
    try {
      await this.store.settleTrained(claim.jobId, await trainingBytes(this.artifacts, claim.jobId));
    } catch (err) {
      claim.log.warn({ err }, 'could not measure the artifacts the job holds');
    }
  }

  /** Deletes a completed job's checkpoints (the caller settles what it holds then: its model, or what could not be deleted). */
  private async dropCheckpoints(jobId: string, log: Logger): Promise<void> {
    await deleteCheckpoints(this.artifacts, jobId).catch((err: unknown) => log.warn({ err }, 'could not delete checkpoints'));
  }

  /** Starts a background reconcile of a trial's experiment (none when one runs: it is asked again after it), without waiting for it. */
  private tellExperiment(experimentId: string | undefined): void {
    if (!experimentId || !this.experiments) return;
    // A failure here loses nothing: the next reconcile (the trial's next wait, its end, the sweep) reads the same events.
    this.experiments.reconcileSoon(experimentId, (err) => this.logger.warn({ err, experimentId }, 'experiment reconcile failed'));
  }

  /** The first epoch at which a trial waits for its experiment's verdict (when that cannot be read: its first epoch). */
  private async firstVerdict(experimentId: string, trial: number, resumedAt: number | undefined): Promise<number | undefined> {
    if (!this.experiments) return undefined;
    try {
      return await this.experiments.firstVerdictEpoch(experimentId, trial, resumedAt);
    } catch (err) {
      this.logger.warn({ err, experimentId, trial }, "could not read the trial's scheduler; it waits after its first epoch");
      return (resumedAt ?? 0) + 1;
    }
  }

  /** Whether the trial's experiment stops it after the epoch just recorded (a failed decision lets it go on, to wait again after the next). */
  private async verdict(experimentId: string, trial: number, epoch: number): Promise<Verdict> {
    try {
      return (await this.experiments?.afterTrialEpoch(experimentId, trial, epoch)) ?? {};
    } catch (err) {
      this.logger.warn({ err, experimentId, trial }, 'experiment decision failed; the trial goes on');
      return { next: epoch + 1 };
    }
  }

  /** Records the outcome through the job lifecycle and tells BullMQ what became of the job. */
  private async apply(outcome: Outcome, claim: Claim, job: Job<TrainingJobData>, token: string | undefined): Promise<TrainingOutcome> {
    const { jobId, log } = claim;
    switch (outcome.kind) {
      case 'lock_lost':
        throw new Error('the job lock was lost to another worker');
      case 'store_lost':
        throw outcome.error instanceof Error ? outcome.error : new Error('the job record could not be written');
      case 'requeue_for_shutdown':
        await this.lifecycle.requeue(jobId, { reason: 'worker_shutdown', attempt: claim.attempt });
        // Back to the queue without spending an attempt; any worker resumes it from its checkpoint.
        await job.moveToDelayed(Date.now(), token);
        log.info('training stopped for shutdown; job returned to the queue');
        throw new DelayedError();
      case 'cancelled':
        log.info('training cancelled');
        return { status: 'cancelled' };
      case 'completed': {
        const { numTensors, stoppedEarly, stoppedBy, preprocessing, engine } = outcome.result;
        // What a client reads on the completed event is final: the complete step itself settles
        // the job's stored bytes to its model alone, the checkpoints as good as gone. They are
        // deleted only after it, so nothing is lost when it fails: the job, still running, is
        // retried from its checkpoint, and the measure in process() counts them again. A worker
        // that dies between the two leaves a completed job with uncounted checkpoints: BullMQ
        // hands the stalled job out again, and its claim deletes them (see claim).
        const trained = await modelBytes(this.artifacts, jobId).catch((err: unknown) => void log.warn({ err }, 'could not measure the model'));
        await this.lifecycle.complete(
          jobId,
          {
            numTensors,
            ...(engine ? { engine } : {}),
            ...(stoppedEarly ? { stoppedEarly } : {}),
            ...(stoppedBy ? { stoppedBy } : {}),
            ...(preprocessing ? { preprocessing } : {}),
          },
          trained,
        );
        // process() measures what the job holds once this returns.
        await this.dropCheckpoints(jobId, log);
        log.info({ numTensors }, 'training completed');
        return { status: 'completed' };
      }
      case 'retry': {
        const { code, message } = outcome.error;
        await this.lifecycle.requeue(jobId, { reason: code, message, attempt: claim.attempt });
        log.warn({ code, message }, 'training did not finish; the job will be retried');
        throw new Error(message);
      }
      case 'failed':
        await this.lifecycle.fail(jobId, outcome.error);
        log.warn({ error: outcome.error }, 'training failed');
        throw new UnrecoverableError(outcome.error.message);
    }
  }
}

/** Resident memory of a process in MB, from /proc (Linux); undefined elsewhere or once it is gone. */
function residentMb(pid: number | undefined): number | undefined {
  const bytes = residentBytes(pid);
  return bytes === undefined ? undefined : Math.round(bytes / 1024 / 1024);
}
