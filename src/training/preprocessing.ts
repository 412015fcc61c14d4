import { type InputScaling, type Preprocessing, type PreprocessingState, type ResolvedJobSpec, describeDataset, elementCount } from '../spec/index.js';
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from './datasets.js';
import { DatasetError } from './errors.js';

/**
 * Input scaling is fitted on the training samples, per channel (the last axis of a sample). The
 * trained model expects inputs scaled this way; it travels with the model (model.json
 * `userDefinedMetadata.descent.preprocessing`) so predictions apply it too, and the job record
 * shows it.
 */
export type { InputScaling, PreprocessingState };

type Metadata = { descent?: { preprocessing?: PreprocessingState } };

/** Stores the fitted preprocessing in the model (model.json `userDefinedMetadata`), when there is any. */
export function attachPreprocessing(model: tf.LayersModel, state: PreprocessingState): void {
  if (state.inputs || state.labels) model.setUserDefinedMetadata({ descent: { preprocessing: state } } satisfies Metadata);
}

/** The preprocessing a model was trained with, from its metadata. */
export function fittedPreprocessing(model: tf.LayersModel): PreprocessingState | undefined {
  return (model.getUserDefinedMetadata() as Metadata | undefined)?.descent?.preprocessing;
}

/** The training data, its validation data and the fitted preprocessing, ready to become tensors. */
export interface PreparedData {
  train: Dataset;
  val?: Dataset;
  state: PreprocessingState;
}

const channelsOf = (shape: number[]) => (shape.length === 0 ? 1 : shape[shape.length - 1]!);

/** Keras' validationSplit: the last fraction of the samples, before any shuffling. */
export function holdOut(data: Dataset, fraction: number): { train: Dataset; val?: Dataset } {
  const held = Math.floor(data.samples * fraction);
  if (held === 0) return { train: data };
  const n = data.samples - held;
  const xSize = elementCount(data.inputShape);
  const ySize = elementCount(data.targetShape);
  const part = (from: number, to: number): Dataset => ({
    ...data,
    x: data.x.subarray(from * xSize, to * xSize),
    y: data.y.subarray(from * ySize, to * ySize),
    samples: to - from,
  });
  return { train: part(0, n), val: part(n, data.samples) };
}

export function fitScaling(data: Dataset, method: 'standardize' | 'minmax'): InputScaling {
  const c = channelsOf(data.inputShape);
  const count = data.x.length / c;
  if (method === 'minmax') {
    const min = new Array<number>(c).fill(Infinity);
    const max = new Array<number>(c).fill(-Infinity);
    data.x.forEach((v, i) => {
      const k = i % c;
      if (v < min[k]!) min[k] = v;
      if (v > max[k]!) max[k] = v;
    });
    return { method, min, max };
  }
  const sum = new Array<number>(c).fill(0);
  data.x.forEach((v, i) => (sum[i % c]! += v));
  const mean = sum.map((s) => s / count);
  const sq = new Array<number>(c).fill(0);
  data.x.forEach((v, i) => (sq[i % c]! += (v - mean[i % c]!) ** 2));
  // Population standard deviation, as scikit-learn's StandardScaler.
  const std = sq.map((s) => Math.sqrt(s / count));
  return { method, mean, std };
}

/** Scales flat row-major samples whose last axis has one entry per channel of `scaling`. */
export function applyScaling(x: ArrayLike<number>, scaling: InputScaling): Float32Array {
  const [offset, scale] =
    scaling.method === 'standardize'
      ? [scaling.mean, scaling.std.map((s) => (s > 0 ? s : 1))]
      : [scaling.min, scaling.max.map((m, k) => (m - scaling.min[k]! > 0 ? m - scaling.min[k]! : 1))];
  const c = offset.length;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i]! - offset[i % c]!) / scale[i % c]!;
  return out;
}

function toOneHot(data: Dataset, classes: number): Dataset {
  if (elementCount(data.targetShape) !== 1) throw new DatasetError(`labels onehot needs one class index per sample, not [${data.targetShape.join(', ')}]`);
  const y = new Float32Array(data.samples * classes);
  data.y.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v >= classes) throw new DatasetError(`sample ${i} has label ${v}, not a class index below ${classes}`);
    y[i * classes + v] = 1;
  });
  return { ...data, y, targetShape: [classes], labels: 'onehot' };
}

function toIndex(data: Dataset): Dataset {
  const k = elementCount(data.targetShape);
  if (data.targetShape.length !== 1 || k < 2) throw new DatasetError(`labels index needs one-hot rows, not [${data.targetShape.join(', ')}]`);
  const y = new Float32Array(data.samples);
  for (let i = 0; i < data.samples; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (data.y[i * k + j]! > data.y[i * k + best]!) best = j;
    y[i] = best;
  }
  return { ...data, y, targetShape: [1], labels: 'index' };
}

function maxLabel(data: Dataset): number {
  return data.y.reduce((m, v) => Math.max(m, v), 0);
}

/**
 * Splits off the validation data (validationSplit) or takes the holdout, then applies the spec's
 * preprocessing: scaling statistics come from the training portion only. Deterministic in the
 * data, so a resumed job recomputes exactly the same.
 */
export function prepareData(spec: ResolvedJobSpec, data: Dataset, holdout?: Dataset): PreparedData {
  const split = holdout ? { train: data, val: holdout } : holdOut(data, spec.training.validationSplit);
  let { train, val } = split;
  const p: Preprocessing | undefined = spec.preprocessing;
  const state: PreprocessingState = {};
  if (val && val.inputShape.join(',') !== train.inputShape.join(',')) {
    throw new DatasetError(`the holdout's samples have shape [${val.inputShape.join(', ')}], the training data's [${train.inputShape.join(', ')}]`);
  }
  if (p?.labels === 'onehot') {
    const classes = p.classes ?? describeDataset(spec.dataset)?.classes ?? maxLabel(data) + 1;
    state.labels = { to: 'onehot', classes };
    train = toOneHot(train, classes);
    if (val) val = toOneHot(val, classes);
  } else if (p?.labels === 'index') {
    state.labels = { to: 'index', classes: elementCount(train.targetShape) };
    train = toIndex(train);
    if (val) val = toIndex(val);
  }
  if (p && p.inputs !== 'none') {
    const scaling = fitScaling(train, p.inputs);
    state.inputs = scaling;
    train = { ...train, x: applyScaling(train.x, scaling) };
    if (val) val = { ...val, x: applyScaling(val.x, scaling) };
  }
  return { train, ...(val ? { val } : {}), state };
}
