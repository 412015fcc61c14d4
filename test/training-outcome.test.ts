import { describe, expect, it } from 'vitest';
import { type Outcome, type RunFacts, decideOutcome } from '../workers/training-outcome.js';

const done = { type: 'done', numTensors: 0 } as const;
const failedWith = (code: Extract<RunFacts['result'], { type: 'failed' }>['code']) => ({ type: 'failed', code, message: `${code} happened` }) as const;
const normalExit = { code: 0, signal: null };
const killed = { code: null, signal: 'SIGKILL' as const };
const redisDown = new Error('Connection is closed.');

/** A run that ended without anything unusual; each row changes what its case is about. */
const facts = (over: Partial<RunFacts>): RunFacts => ({
  exit: normalExit,
  cancelled: false,
  shutdown: false,
  lockLost: false,
  attempt: 1,
  maxAttempts: 3,
  heapLimitMb: 512,
  ...over,
});

const crashed = (exit: string) => ({ code: 'worker_crashed' as const, message: `training process exited (${exit}) before finishing` });
const storeFault = { code: 'storage_unavailable' as const, message: 'storage_unavailable happened' };

const table: [string, Partial<RunFacts>, Outcome][] = [
  ['completed', { result: done }, { kind: 'completed', result: done }],
  [
    'completed with early stopping',
    { result: { ...done, stoppedEarly: { epoch: 4, bestEpoch: 2, restoredBestWeights: true } } },
    { kind: 'completed', result: { ...done, stoppedEarly: { epoch: 4, bestEpoch: 2, restoredBestWeights: true } } },
  ],
  ['cancelled by the user', { cancelled: true, exit: killed }, { kind: 'cancelled' }],
  ['cancelled while the child finished (the cancel wins)', { cancelled: true, result: done }, { kind: 'cancelled' }],
  ['cancelled, the child reporting its abort', { cancelled: true, result: failedWith('aborted') }, { kind: 'cancelled' }],
  ['worker shutdown', { shutdown: true, result: failedWith('aborted') }, { kind: 'requeue_for_shutdown' }],
  ['worker shutdown outranks a cancel', { shutdown: true, cancelled: true }, { kind: 'requeue_for_shutdown' }],
  ['bad model (user error)', { result: failedWith('invalid_model') }, { kind: 'failed', error: { code: 'invalid_model', message: 'invalid_model happened' } }],
  ['diverged', { result: failedWith('diverged') }, { kind: 'failed', error: { code: 'diverged', message: 'diverged happened' } }],
  [
    'uploaded dataset deleted',
    { result: failedWith('dataset_not_found') },
    { kind: 'failed', error: { code: 'dataset_not_found', message: 'dataset_not_found happened' } },
  ],
  [
    'dataset unusable',
    { result: failedWith('dataset_unavailable') },
    { kind: 'failed', error: { code: 'dataset_unavailable', message: 'dataset_unavailable happened' } },
  ],
  [
    'unclassified training error',
    { result: failedWith('training_error') },
    { kind: 'failed', error: { code: 'training_error', message: 'training_error happened' } },
  ],
  [
    'an artifact store fault with attempts left: retried, with what the child said',
    { result: failedWith('storage_unavailable') },
    { kind: 'retry', error: storeFault },
  ],
  ['an artifact store fault on the last attempt', { result: failedWith('storage_unavailable'), attempt: 3 }, { kind: 'failed', error: storeFault }],
  ['a shutdown outranks an artifact store fault', { shutdown: true, result: failedWith('storage_unavailable') }, { kind: 'requeue_for_shutdown' }],
  ['a cancel outranks an artifact store fault', { cancelled: true, result: failedWith('storage_unavailable') }, { kind: 'cancelled' }],
  [
    'a kill outranks an artifact store fault',
    { exit: killed, killed: { code: 'timeout', message: 'too long' }, result: failedWith('storage_unavailable') },
    { kind: 'failed', error: { code: 'timeout', message: 'too long' } },
  ],
  ['an abort nobody asked for counts as a crash', { result: failedWith('aborted') }, { kind: 'retry', error: crashed('code 0') }],
  [
    'timeout (the deadline killed it)',
    { exit: killed, killed: { code: 'timeout', message: 'too long' } },
    { kind: 'failed', error: { code: 'timeout', message: 'too long' } },
  ],
  [
    'memory watch killed it',
    { exit: killed, killed: { code: 'out_of_memory', message: 'too big' } },
    { kind: 'failed', error: { code: 'out_of_memory', message: 'too big' } },
  ],
  [
    'V8 heap limit (SIGABRT)',
    { exit: { code: null, signal: 'SIGABRT' } },
    { kind: 'failed', error: { code: 'out_of_memory', message: 'the training process ran out of memory (heap limit 512 MB)' } },
  ],
  [
    'V8 heap limit (exit 134)',
    { exit: { code: 134, signal: null } },
    { kind: 'failed', error: { code: 'out_of_memory', message: 'the training process ran out of memory (heap limit 512 MB)' } },
  ],
  [
    'a kill outranks a failure the child sent',
    { exit: killed, killed: { code: 'timeout', message: 'too long' }, result: failedWith('training_error') },
    { kind: 'failed', error: { code: 'timeout', message: 'too long' } },
  ],
  ['crash with attempts left', { exit: killed, attempt: 2, maxAttempts: 3 }, { kind: 'retry', error: crashed('SIGKILL') }],
  ['crash exit code with attempts left', { exit: { code: 1, signal: null } }, { kind: 'retry', error: crashed('code 1') }],
  ['retries run out: worker_crashed', { exit: killed, attempt: 3, maxAttempts: 3 }, { kind: 'failed', error: crashed('SIGKILL') }],
  ['a single-attempt job that crashes', { exit: killed, attempt: 1, maxAttempts: 1 }, { kind: 'failed', error: crashed('SIGKILL') }],
  ['Redis lost mid-training', { exit: killed, writeError: redisDown }, { kind: 'store_lost', error: redisDown }],
  ['Redis lost outranks a result', { writeError: redisDown, result: done }, { kind: 'store_lost', error: redisDown }],
  ['Redis lost outranks shutdown and cancel', { writeError: redisDown, shutdown: true, cancelled: true }, { kind: 'store_lost', error: redisDown }],
  ['lock lost to another worker', { exit: killed, lockLost: true }, { kind: 'lock_lost' }],
  ['lock lost outranks everything', { lockLost: true, writeError: redisDown, shutdown: true, cancelled: true, result: done }, { kind: 'lock_lost' }],
];

describe('decideOutcome', () => {
  it.each(table)('%s', (_name, over, expected) => {
    expect(decideOutcome(facts(over))).toEqual(expected);
  });

  it('the table reaches every kind of outcome', () => {
    const kinds = new Set(table.map(([, , o]) => o.kind));
    expect([...kinds].sort()).toEqual(['cancelled', 'completed', 'failed', 'lock_lost', 'requeue_for_shutdown', 'retry', 'store_lost']);
  });
});
