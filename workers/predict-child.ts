/**
 * The predict process: one long-lived child per worker that runs every predict request, so a
 * heavy one never blocks the worker's event loop (where BullMQ renews training jobs' locks).
 * argv: backend, model cache size in MB; its first message says how to open the artifact store.
 */
import * as tf from '@tensorflow/tfjs';
import { type BackendName, initBackend } from '../src/training/backend.js';
import { loadModel } from '../src/training/model-io.js';
import { modelInputs } from '../src/training/model.js';
import { applyScaling, fittedPreprocessing } from '../src/training/preprocessing.js';
import type { ArtifactStore } from '../src/storage/artifact-store.js';
import { openArtifactStore } from '../src/storage/open-artifact-store.js';
import type { PredictParentMessage, PredictRequest, PredictResponse } from './predict-protocol.js';

const [backendName = 'auto', cacheMb = '1024'] = process.argv.slice(2);
let store: ArtifactStore | undefined;
const cacheBytes = Number(cacheMb) * 1024 * 1024;

/** Loaded models, least recently used first, with the bytes their weights take. */
const cache = new Map<string, { model: tf.LayersModel; bytes: number }>();
let cachedBytes = 0;

async function model(jobId: string): Promise<tf.LayersModel | undefined> {
  const hit = cache.get(jobId);
  if (hit) {
    cache.delete(jobId);
    cache.set(jobId, hit);
    return hit.model;
  }
  if (!store) throw new Error('the predict process was not told where the artifact store is');
  const loaded = await loadModel(store, jobId);
  if (!loaded) return undefined;
  const bytes = loaded.weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1) * 4, 0);
  cache.set(jobId, { model: loaded, bytes });
  cachedBytes += bytes;
  // The newest stays even when it alone is over the budget: it is about to be used.
  for (const [id, entry] of cache) {
    if (cachedBytes <= cacheBytes || id === jobId) break;
    cache.delete(id);
    cachedBytes -= entry.bytes;
    entry.model.dispose();
  }
  return loaded;
}

/** The inputs as a tensor, scaled as the model's training data was (the statistics travel in model.json). */
function inputTensor(m: tf.LayersModel, inputs: unknown[]): tf.Tensor {
  const scaling = fittedPreprocessing(m)?.inputs;
  const x = tf.tensor(inputs as number[][]);
  if (!scaling) return x;
  // Rows are shaped like the dataset's samples; scaling is per channel, their last axis.
  const scaled = tf.tensor(applyScaling(x.dataSync(), scaling), x.shape);
  x.dispose();
  return scaled;
}

async function answer(req: PredictRequest): Promise<PredictResponse> {
  const fail = (code: Extract<PredictResponse, { type: 'error' }>['code'], message: string, details?: unknown): PredictResponse => ({
    type: 'error',
    requestId: req.requestId,
    code,
    message,
    ...(details !== undefined ? { details } : {}),
  });
  const m = await model(req.jobId);
  if (!m) return fail('model_not_found', `no trained model is stored for job ${req.jobId}`);
  let output: tf.Tensor;
  try {
    output = tf.tidy(() => {
      const result = m.predict(modelInputs(m, inputTensor(m, req.inputs)));
      return Array.isArray(result) ? result[0]! : result;
    });
  } catch (err) {
    // The inputs have the right shape (the API checked) but the model cannot take their values,
    // e.g. embedding ids out of range: the caller's mistake.
    return fail('invalid_inputs', (err as Error).message);
  }
  try {
    if (output.size > req.maxOutputValues) {
      const limit = { limit: 'MAX_PREDICT_OUTPUT_VALUES', path: ['inputs'], value: output.size, max: req.maxOutputValues };
      return fail('output_too_large', `the outputs have ${output.size} values, over the limit MAX_PREDICT_OUTPUT_VALUES=${req.maxOutputValues}`, [limit]);
    }
    return { type: 'result', requestId: req.requestId, outputs: (await output.array()) as unknown[] };
  } finally {
    output.dispose();
  }
}

function send(message: PredictResponse): void {
  // No channel: the worker is gone.
  if (!process.connected) process.exit(1);
  process.send!(message);
}

// Requests run one at a time, in order: each is CPU-bound and tfjs is not re-entrant.
let chain: Promise<void> = initBackend(backendName as 'auto' | BackendName).then(() => send({ type: 'ready' }));
process.on('message', (msg: PredictParentMessage) => {
  if (msg.type === 'init') {
    // Models read for predictions are cached on this host's disk when the store is remote.
    store = openArtifactStore(msg.store, { cache: true });
    return;
  }
  const req: PredictRequest = msg;
  chain = chain.then(async () => {
    try {
      send(await answer(req));
    } catch (err) {
      send({ type: 'error', requestId: req.requestId, code: 'predict_failed', message: (err as Error).message });
    }
  });
});
process.on('disconnect', () => process.exit(0));
