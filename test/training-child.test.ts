import { fork, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveEntry } from '../src/shared/entry.js';
import { artifactStoreSettings } from '../src/storage/open-artifact-store.js';
import type { EpochReport, StoredJobSpec } from '../src/spec/index.js';
import type { ChildMessage, ParentMessage } from '../workers/child-protocol.js';
import { resolveStoredSpec, testConfig, xorSpec } from './helpers.js';

const CHILD = resolveEntry(import.meta.url, '../workers/training-child');
const config = testConfig();
const children: ChildProcess[] = [];

/** A real training process, as a worker forks it, with its messages in order. */
function startChild() {
  const child = fork(CHILD.path, [config.TFJS_BACKEND], { execArgv: CHILD.execArgv, serialization: 'advanced', stdio: 'inherit' });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    /**
     * Trains one job; `answer` is called for each epoch and may send the verdict the child waits for.
     * Resolves with the epochs reported and the child's last word.
     */
    train(jobId: string, spec: StoredJobSpec, verdictAt?: number, answer: (epoch: number) => ParentMessage | undefined = () => undefined) {
      const epochs: EpochReport[] = [];
      const ended = new Promise<Extract<ChildMessage, { type: 'done' | 'failed' }>>((resolve, reject) => {
        const onMessage = (msg: ChildMessage) => {
          if (msg.type === 'epoch') {
            epochs.push(msg.report);
            const reply = answer(msg.report.epoch);
            if (reply) child.send(reply);
          }
          if (msg.type === 'done' || msg.type === 'failed') {
            child.off('message', onMessage);
            child.off('exit', onExit);
            resolve(msg);
          }
        };
        const onExit = (code: number | null) => reject(new Error(`the training process exited (${code}) mid-job`));
        child.on('message', onMessage);
        child.once('exit', onExit);
      });
      child.send({
        type: 'train',
        jobId,
        spec,
        store: artifactStoreSettings(config),
        checkpointEvery: 1,
        checkpointMinIntervalMs: 0,
        ...(verdictAt !== undefined ? { verdictAt } : {}),
      } satisfies ParentMessage);
      return ended.then((last) => ({ epochs, last }));
    },
  };
}

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

const spirals = (epochs: number, overrides: Parameters<typeof xorSpec>[0] = {}) =>
  resolveStoredSpec(xorSpec({ dataset: { builtin: 'spirals', samples: 64 }, training: { epochs, batchSize: 8, seed: 4 }, ...overrides }));
const withoutTime = (epochs: EpochReport[]) => epochs.map(({ durationMs: _d, ...rest }) => rest);

describe('training child process', () => {
  it('waits for a verdict only at the epochs it is told to, and stops where a verdict says', async () => {
    const c = startChild();
    // Nothing answers epochs 1 and 3: were the child waiting there, the job would never end.
    const { epochs, last } = await c.train('gated', spirals(6), 2, (epoch) =>
      epoch === 2 ? { type: 'verdict', epoch, next: 4 } : epoch === 4 ? { type: 'verdict', epoch, stopBy: 'asha' } : undefined,
    );
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4]);
    expect(last).toMatchObject({ type: 'done', stoppedBy: 'asha', reusable: true });
  }, 120_000);

  it('trains a second job in the same process exactly as a fresh process does, and leaves no tensor behind', async () => {
    const reused = startChild();
    const first = await reused.train(
      'first',
      spirals(3, { optimizer: { name: 'adam', learningRate: 0.05 }, training: { epochs: 3, batchSize: 4, seed: 9, engine: 'eager' } }),
    );
    expect(first.last).toMatchObject({ type: 'done', reusable: true });
    const spec = spirals(5, { optimizer: { name: 'momentum', learningRate: 0.1, momentum: 0.9 } });
    const second = await reused.train('second', spec);
    const fresh = await startChild().train('fresh', spec);
    expect(second.last).toMatchObject({ type: 'done', reusable: true });
    expect(withoutTime(second.epochs)).toEqual(withoutTime(fresh.epochs));
    expect(second.epochs).toHaveLength(5);
    expect(second.last.type === 'done' && second.last.numTensors).toBe(fresh.last.type === 'done' && fresh.last.numTensors);
    expect(first.last.type === 'done' && first.last.numTensors).toBe(fresh.last.type === 'done' && fresh.last.numTensors);
  }, 180_000);

  it('exits after a job that did not complete (cancelled), so nothing of it reaches another job', async () => {
    const c = startChild();
    const { last } = await c.train('cancelled', spirals(5_000), undefined, (epoch) => (epoch === 1 ? { type: 'cancel' } : undefined));
    expect(last).toMatchObject({ type: 'failed', code: 'aborted' });
    expect(await c.exited).toBe(0);
  }, 120_000);
});
