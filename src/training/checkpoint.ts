import * as tf from '@tensorflow/tfjs';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { checkpointKeys } from '../storage/artifact-keys.js';
import type { TorchOptimizer } from './optimizers.js';
import type { EpochReport } from '../spec/index.js';

/**
 * Everything training needs to continue exactly where it stopped: model weights, optimizer
 * slots and step count, the best weights early stopping kept, and the metric history (from which
 * the schedule and early-stopping state are replayed). Shuffling needs no state: each epoch's
 * permutation derives from the seed and the epoch number.
 */
export interface TrainingState {
  epoch: number;
  history: EpochReport[];
  specs: tf.io.WeightsManifestEntry[];
  data: Uint8Array;
}

type Named = { name: string; tensor: tf.Tensor };

/** An optimizer's state as either engine keeps it (the eager TorchOptimizer, the GraphTrainer); getWeights' tensors are the caller's. */
export type OptimizerState = Pick<TorchOptimizer, 'getWeights' | 'setWeights'>;

/**
 * Optimizer slots are keyed by variable name, and tfjs names variables with process-wide
 * counters; checkpoints key them by the variable's index in the model instead.
 */
export async function captureState(
  model: tf.LayersModel,
  optimizer: OptimizerState,
  epoch: number,
  history: EpochReport[],
  best: tf.Tensor[] | undefined,
): Promise<TrainingState> {
  const index = new Map(model.trainableWeights.map((w, i) => [w.name, i]));
  const slots = (await optimizer.getWeights()).map(({ name, tensor }) => {
    if (name === 'iter') return { name: 'optimizer/iter', tensor };
    const cut = name.lastIndexOf('/');
    return { name: `optimizer/${index.get(name.slice(0, cut))}/${name.slice(cut + 1)}`, tensor };
  });
  const named: Named[] = [
    ...model.getWeights().map((tensor, i) => ({ name: `model/${i}`, tensor })),
    ...slots,
    ...(best ?? []).map((tensor, i) => ({ name: `best/${i}`, tensor })),
  ];
  const { data, specs } = await tf.io.encodeWeights(named);
  tf.dispose(slots.map((s) => s.tensor));
  return { epoch, history: [...history], specs, data: new Uint8Array(data) };
}

/** Restores weights and optimizer state; returns the best weights early stopping had kept. */
export async function restoreState(model: tf.LayersModel, optimizer: OptimizerState, state: TrainingState): Promise<tf.Tensor[] | undefined> {
  const buffer = state.data.buffer.slice(state.data.byteOffset, state.data.byteOffset + state.data.byteLength) as ArrayBuffer;
  const map = tf.io.decodeWeights(buffer, state.specs);
  const group = (prefix: string) =>
    Object.keys(map)
      .filter((k) => k.startsWith(prefix))
      .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
      .map((k) => map[k]!);
  const weights = group('model/');
  model.setWeights(weights);
  const names = model.trainableWeights.map((w) => w.name);
  const slots: Named[] = Object.keys(map)
    .filter((k) => k.startsWith('optimizer/'))
    .map((k) => {
      const rest = k.slice('optimizer/'.length);
      if (rest === 'iter') return { name: 'iter', tensor: map[k]! };
      const [i, slot] = rest.split('/') as [string, string];
      return { name: `${names[Number(i)]}/${slot}`, tensor: map[k]! };
    });
  await optimizer.setWeights(slots);
  const best = group('best/');
  tf.dispose([...weights, ...slots.map((s) => s.tensor)]);
  return best.length > 0 ? best : undefined;
}

/** Writes data, then the manifest: a checkpoint is visible only once it is whole. */
export async function writeCheckpoint(store: ArtifactStore, jobId: string, state: TrainingState): Promise<void> {
  const k = checkpointKeys(jobId);
  await store.put(k.data(state.epoch), state.data);
  await store.put(k.manifest(state.epoch), JSON.stringify({ epoch: state.epoch, history: state.history, specs: state.specs }));
}

export async function readCheckpoint(store: ArtifactStore, jobId: string, epoch: number): Promise<TrainingState | undefined> {
  const k = checkpointKeys(jobId);
  const [manifest, data] = await Promise.all([store.get(k.manifest(epoch)), store.get(k.data(epoch))]);
  if (!manifest || !data) return undefined;
  const m = JSON.parse(manifest.toString('utf8')) as Omit<TrainingState, 'data'>;
  return { ...m, data: new Uint8Array(data) };
}

export async function deleteCheckpoint(store: ArtifactStore, jobId: string, epoch: number): Promise<void> {
  const k = checkpointKeys(jobId);
  await Promise.all([store.delete(k.manifest(epoch)), store.delete(k.data(epoch))]);
}

export async function deleteCheckpoints(store: ArtifactStore, jobId: string): Promise<void> {
  await store.delete(checkpointKeys(jobId).dir);
}
