import type { JobErrorCode, RequeueReason } from '../src/spec/index.js';
import type { TrainingErrorCode } from '../src/training/errors.js';
import type { ChildMessage } from './child-protocol.js';

/** Why the worker killed the training process itself. */
export interface Kill {
  code: Extract<JobErrorCode, 'timeout' | 'out_of_memory'>;
  message: string;
}

/** Everything known once a job's training process has exited: what `decideOutcome` decides on. */
export interface RunFacts {
  exit: { code: number | null; signal: NodeJS.Signals | null };
  /** The child's last word, when it said one. */
  result?: Extract<ChildMessage, { type: 'done' | 'failed' }>;
  /** The user cancelled the job. */
  cancelled: boolean;
  /** The worker is shutting down. */
  shutdown: boolean;
  /** The job lock went to another worker. */
  lockLost: boolean;
  /** A record could not be written (Redis lost mid-training): the first such error. */
  writeError?: unknown;
  /** The worker killed the child (deadline, memory watch). */
  killed?: Kill;
  /** The attempt this run is (1 = first; a resume after a shutdown keeps it) and how many the job may have. */
  attempt: number;
  maxAttempts: number;
  /** The child's heap limit (CHILD_MAX_MEMORY_MB), for the message when V8 aborts on it. */
  heapLimitMb: number;
}

/** What happens to the job next: the runner applies it through the job lifecycle. */
export type Outcome =
  /** Another worker owns the job: write nothing. */
  | { kind: 'lock_lost' }
  /** Redis went away mid-training: BullMQ retries the job, from its last recorded checkpoint. */
  | { kind: 'store_lost'; error: unknown }
  /** Back to the queue without spending an attempt; any worker resumes it. */
  | { kind: 'requeue_for_shutdown' }
  | { kind: 'cancelled' }
  | { kind: 'completed'; result: Extract<ChildMessage, { type: 'done' }> }
  /** A fault with attempts left: back to the queue, to be retried from the last checkpoint. */
  | { kind: 'retry'; error: { code: RetriedCode; message: string } }
  | { kind: 'failed'; error: { code: JobErrorCode; message: string } };

/** The faults another attempt may get past, each its own requeue reason and, once attempts run out, the job's error code. */
export type RetriedCode = Exclude<RequeueReason, 'worker_shutdown'>;

/**
 * Failures the training process reports that are retried: not the job's fault (the artifact
 * store failed). Every other code is deterministic (a bad model, a diverging loss, missing data)
 * and fails the job at once: another attempt would end the same way.
 */
const RETRIED_FAILURES: ReadonlySet<TrainingErrorCode> = new Set<RetriedCode & TrainingErrorCode>(['storage_unavailable']);
const isRetried = (code: TrainingErrorCode): code is RetriedCode & TrainingErrorCode => RETRIED_FAILURES.has(code);

/**
 * Decides a job's outcome from how its training ended. Pure: the order of the checks is the
 * policy (losing the lock or the store outranks anything the child said; a shutdown outranks a
 * cancel; a cancel outranks a result that raced it).
 */
export function decideOutcome(f: RunFacts): Outcome {
  if (f.lockLost) return { kind: 'lock_lost' };
  if (f.writeError !== undefined) return { kind: 'store_lost', error: f.writeError };
  if (f.shutdown) return { kind: 'requeue_for_shutdown' };
  if (f.cancelled) return { kind: 'cancelled' };
  if (f.result?.type === 'done') return { kind: 'completed', result: f.result };
  // V8 aborts (SIGABRT, exit 134) when the heap limit is hit.
  const heapAbort = !f.result && (f.exit.signal === 'SIGABRT' || f.exit.code === 134);
  const killed =
    f.killed ?? (heapAbort ? { code: 'out_of_memory', message: `the training process ran out of memory (heap limit ${f.heapLimitMb} MB)` } : undefined);
  if (killed) return { kind: 'failed', error: killed };
  const failure = f.result;
  let error: { code: RetriedCode; message: string };
  if (failure && isRetried(failure.code)) error = { code: failure.code, message: failure.message };
  // 'aborted' without a cancel or a shutdown is nothing the user did: treated as a crash.
  else if (failure && failure.code !== 'aborted') return { kind: 'failed', error: { code: failure.code, message: failure.message } };
  // The child died without a word: an infrastructure fault, worth another attempt.
  else error = { code: 'worker_crashed', message: `training process exited (${f.exit.signal ?? `code ${f.exit.code}`}) before finishing` };
  if (f.attempt < f.maxAttempts) return { kind: 'retry', error };
  return { kind: 'failed', error };
}
