/**
 * The training child process: one per job, so a CPU-bound fit never starves the worker's event
 * loop (BullMQ lock renewal) and a crash or a kill takes only this job with it.
 */
import { type BackendName, initBackend } from '../src/training/backend.js';
import { saveModel } from '../src/training/model-io.js';
import { train } from '../src/training/train.js';
import { trainingErrorOf } from '../src/training/errors.js';
import { fittedPreprocessing } from '../src/training/preprocessing.js';
import { loadUploadedDataset } from '../src/training/uploaded-dataset.js';
import { openArtifactStore } from '../src/storage/open-artifact-store.js';
import { withStorageFaults } from '../src/training/storage-faults.js';
import { deleteCheckpoint, readCheckpoint, writeCheckpoint } from '../src/training/checkpoint.js';
import * as tf from '@tensorflow/tfjs';
import type { ChildMessage, ParentMessage } from './child-protocol.js';
import type { StoppedBy } from '../src/spec/index.js';

const controller = new AbortController();
/** The worker's answer about an epoch of a gated (experiment) trial, awaited before the next epoch. */
const verdicts = new Map<number, (stopBy: StoppedBy | undefined) => void>();
let stoppedBy: StoppedBy | undefined;
// The backend loads as soon as the process starts (argv[2] names it), so a spare child is
// ready to train the moment a job arrives.
const backend = initBackend((process.argv[2] ?? 'auto') as 'auto' | BackendName);
backend.catch(() => {});

function send(message: ChildMessage): Promise<void> {
  // No channel: the worker is gone and its job will run elsewhere.
  if (!process.connected) process.exit(1);
  return new Promise((resolve, reject) => {
    try {
      process.send!(message, undefined, {}, (err) => (err ? reject(err) : resolve()));
    } catch {
      process.exit(1);
    }
  });
}

async function run(msg: Extract<ParentMessage, { type: 'train' }>): Promise<void> {
  const info = await backend;
  await send({ type: 'started', ...info });
  // Datasets read for training are cached on this host's disk when the store is remote. A store
  // fault fails the run as storage_unavailable, which the worker retries from the checkpoint.
  const store = withStorageFaults(openArtifactStore(msg.store, { cache: true }));
  const resume = msg.resumeEpoch ? await readCheckpoint(store, msg.jobId, msg.resumeEpoch) : undefined;
  const saved: number[] = [];
  let checkpointed: number | undefined;
  const upload = (id: string | undefined) => (id !== undefined ? loadUploadedDataset(store, id) : undefined);
  const data = await upload(msg.spec.dataset.id);
  const validationData = await upload(msg.spec.training.validationData?.id);
  const { model, stoppedEarly, stoppedAt, engine } = await train(msg.spec, {
    ...(data ? { data } : {}),
    ...(validationData ? { validationData } : {}),
    signal: controller.signal,
    ...(resume ? { resume } : {}),
    checkpoint: {
      every: msg.checkpointEvery,
      minIntervalMs: msg.checkpointMinIntervalMs,
      save: async (state) => {
        await writeCheckpoint(store, msg.jobId, state);
        checkpointed = state.epoch;
        saved.push(state.epoch);
        // Keep the newest two: the pointer in Redis may still name the previous one.
        while (saved.length > 2) await deleteCheckpoint(store, msg.jobId, saved.shift()!);
      },
    },
    onEngine: (choice) =>
      send({ type: 'engine', engine: { name: choice.engine, ...(choice.fallbackReason ? { fallbackReason: choice.fallbackReason } : {}) } }),
    onEpochEnd: async (report) => {
      const verdict = msg.gated ? new Promise<StoppedBy | undefined>((resolve) => verdicts.set(report.epoch, resolve)) : undefined;
      await send({ type: 'epoch', report, ...(checkpointed === report.epoch ? { checkpoint: report.epoch } : {}) });
      stoppedBy = await verdict;
      return stoppedBy ? 'stop' : undefined;
    },
  });
  const preprocessing = fittedPreprocessing(model);
  try {
    await saveModel(model, store, msg.jobId);
  } finally {
    model.dispose();
  }
  const ran = { name: engine.engine, ...(engine.fallbackReason ? { fallbackReason: engine.fallbackReason } : {}) };
  await send({
    type: 'done',
    numTensors: tf.memory().numTensors,
    engine: ran,
    ...(stoppedEarly ? { stoppedEarly } : {}),
    ...(stoppedAt && stoppedBy ? { stoppedBy } : {}),
    ...(preprocessing ? { preprocessing } : {}),
  });
}

// The worker is gone (crashed or killed): its job will run elsewhere, so stop training.
process.on('disconnect', () => process.exit(1));

process.on('message', (msg: ParentMessage) => {
  if (msg.type === 'cancel') {
    controller.abort();
    for (const resolve of verdicts.values()) resolve(undefined);
    return;
  }
  if (msg.type === 'verdict') {
    verdicts.get(msg.epoch)?.(msg.stopBy);
    verdicts.delete(msg.epoch);
    return;
  }
  run(msg)
    .catch((err: unknown) => send({ type: 'failed', ...trainingErrorOf(err) }))
    .finally(() => {
      process.removeAllListeners('disconnect');
      process.disconnect();
    });
});
