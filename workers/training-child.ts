/**
 * The training child process: one job at a time, so a CPU-bound fit never starves the worker's
 * event loop (BullMQ lock renewal) and a crash or a kill takes only that job with it. After a job
 * that completed and left no tensor behind it waits for the worker's next job (TensorFlow and the
 * built-in datasets already loaded); after anything else it exits.
 */
import { type BackendName, initBackend } from '../src/training/backend.js';
import { saveModel } from '../src/training/model-io.js';
import { train } from '../src/training/train.js';
import { trainingErrorOf } from '../src/training/errors.js';
import { fittedPreprocessing } from '../src/training/preprocessing.js';
import { loadUploadedDataset } from '../src/training/uploaded-dataset.js';
import { withInlineData } from '../src/training/inline-dataset.js';
import { openArtifactStore } from '../src/storage/open-artifact-store.js';
import { withStorageFaults } from '../src/training/storage-faults.js';
import { deleteCheckpoint, readCheckpoint, writeCheckpoint } from '../src/training/checkpoint.js';
import * as tf from '@tensorflow/tfjs';
import type { ChildMessage, ParentMessage } from './child-protocol.js';
import type { StoppedBy } from '../src/spec/index.js';

type Verdict = Omit<Extract<ParentMessage, { type: 'verdict' }>, 'type'>;

/** The job in training: its abort signal, and the verdict it waits for after an epoch, if it does. */
let current: { controller: AbortController; waiting?: { epoch: number; resolve: (v: Verdict | undefined) => void } } | undefined;
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

async function run(msg: Extract<ParentMessage, { type: 'train' }>): Promise<boolean> {
  const job = (current = { controller: new AbortController() } as NonNullable<typeof current>);
  const info = await backend;
  const tensorsBefore = tf.memory().numTensors;
  await send({ type: 'started', ...info });
  // Datasets read for training are cached on this host's disk when the store is remote. A store
  // fault fails the run as storage_unavailable, which the worker retries from the checkpoint.
  const store = withStorageFaults(openArtifactStore(msg.store, { cache: true }));
  const resume = msg.resumeEpoch ? await readCheckpoint(store, msg.jobId, msg.resumeEpoch) : undefined;
  const saved: number[] = [];
  let checkpointed: number | undefined;
  let verdictAt = msg.verdictAt;
  let stoppedBy: StoppedBy | undefined;
  const spec = await withInlineData(store, msg.spec);
  const upload = (id: string | undefined) => (id !== undefined ? loadUploadedDataset(store, id) : undefined);
  const data = await upload(spec.dataset.id);
  const validationData = await upload(spec.training.validationData?.id);
  const { model, stoppedEarly, stoppedAt, engine } = await train(spec, {
    ...(data ? { data } : {}),
    ...(validationData ? { validationData } : {}),
    signal: job.controller.signal,
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
      // Only where the trial's scheduler may stop it does it wait for the experiment's verdict.
      const waits = verdictAt === report.epoch;
      const verdict = waits ? new Promise<Verdict | undefined>((resolve) => (job.waiting = { epoch: report.epoch, resolve })) : undefined;
      await send({ type: 'epoch', report, ...(checkpointed === report.epoch ? { checkpoint: report.epoch } : {}) });
      if (!verdict) return undefined;
      const answer = await verdict;
      job.waiting = undefined;
      stoppedBy = answer?.stopBy;
      verdictAt = answer?.next;
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
  const numTensors = tf.memory().numTensors;
  const reusable = numTensors <= tensorsBefore && !job.controller.signal.aborted;
  await send({
    type: 'done',
    numTensors,
    engine: ran,
    ...(stoppedEarly ? { stoppedEarly } : {}),
    ...(stoppedAt && stoppedBy ? { stoppedBy } : {}),
    ...(preprocessing ? { preprocessing } : {}),
    reusable,
  });
  return reusable;
}

// The worker is gone (crashed or killed): its job will run elsewhere, so stop training.
process.on('disconnect', () => process.exit(1));

process.on('message', (msg: ParentMessage) => {
  if (msg.type === 'cancel') {
    current?.controller.abort();
    current?.waiting?.resolve(undefined);
    return;
  }
  if (msg.type === 'verdict') {
    if (current?.waiting?.epoch === msg.epoch) current.waiting.resolve(msg);
    return;
  }
  void run(msg)
    .catch((err: unknown) =>
      send({ type: 'failed', ...trainingErrorOf(err) }).then(
        () => false,
        () => false,
      ),
    )
    .then((reusable) => {
      current = undefined;
      if (reusable) return;
      process.removeAllListeners('disconnect');
      process.disconnect();
    });
});
