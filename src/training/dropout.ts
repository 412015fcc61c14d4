import * as tf from '@tensorflow/tfjs';

/**
 * What separates the mask seeds of two layers: the n-th layer that draws masks draws its first
 * mask of a step from the seed pair [jobSeed + n * MASK_SITE_STRIDE, step], on either engine (the
 * graph engine adds it in its graph).
 */
export const MASK_SITE_STRIDE = 7919;

/** The parts of tfjs-node's backend that run one TensorFlow op eagerly. */
interface NativeBackend {
  binding: { TF_ATTR_TYPE: number; TF_FLOAT: number; TF_INT32: number };
  executeSingleOutput(name: string, attrs: { name: string; type: number; value: number }[], inputs: tf.Tensor[]): tf.Tensor;
}

/**
 * Uniform [0, 1) floats of a shape that depend only on a seed pair. On the native backend this is
 * TensorFlow's StatelessRandomUniform, the op the graph engine's dropout runs, so both engines
 * draw the same masks; other backends use tfjs' seeded generator (the same masks on every run,
 * though not TensorFlow's).
 */
function statelessUniform(shape: number[], seed: [number, number]): tf.Tensor {
  if (tf.getBackend() !== 'tensorflow') return tf.randomUniform(shape, 0, 1, 'float32', `${seed[0]}/${seed[1]}`);
  const native = tf.backend() as unknown as NativeBackend;
  const { TF_ATTR_TYPE, TF_FLOAT, TF_INT32 } = native.binding;
  const type = (name: string, value: number) => ({ name, type: TF_ATTR_TYPE, value });
  return tf.tidy(() =>
    native.executeSingleOutput(
      'StatelessRandomUniform',
      [type('dtype', TF_FLOAT), type('T', TF_INT32), type('Tseed', TF_INT32)],
      [tf.tensor1d(shape, 'int32'), tf.tensor1d(seed, 'int32')],
    ),
  );
}

/** Between the seeds of two masks one layer draws in a step (recurrent gates, timesteps). */
const DRAW_STRIDE = 0x9e3779b1;

/** A layer's source of masks: inverted-dropout multipliers, 0 with probability `rate`, else 1 / (1 - rate). */
export type MaskSource = (shape: number[], rate: number) => tf.Tensor;

/**
 * The dropout masks of one training run (the eager engine's). `begin(step)` starts a training
 * step; the n-th layer that draws masks (in model.layers order, the order the graph engine numbers
 * them in) draws its k-th mask of the step from the seed pair
 * [seed + n * MASK_SITE_STRIDE + k * DRAW_STRIDE, step]. A mask so depends only on the job seed,
 * the step and where it is drawn: a seed gives the same masks every time, and a run resumed from
 * a checkpoint draws the masks an uninterrupted run draws.
 */
export class DropoutMasks {
  private step = 0;

  constructor(private readonly seed: number) {}

  /** Starts training step `step` (from 1: the optimizer's iteration count after it). */
  begin(step: number): void {
    this.step = step;
  }

  /** The masks of the n-th layer (from 1) that draws any. */
  source(n: number): MaskSource {
    let step = Number.NaN;
    let drawn = 0;
    return (shape, rate) => {
      if (step !== this.step) [step, drawn] = [this.step, 0];
      const seed: [number, number] = [(this.seed + n * MASK_SITE_STRIDE + drawn++ * DRAW_STRIDE) | 0, this.step | 0];
      const keep = 1 - rate;
      // floor(u + keep) is 1 with probability keep: the graph engine's ops, in its order.
      return tf.tidy(() => tf.mul(tf.floor(tf.add(statelessUniform(shape, seed), keep)), 1 / keep));
    };
  }
}

type DropoutArgs = { rate: number; name?: string };
const TfDropout = tf.layers.dropout({ rate: 0 }).constructor as new (args: DropoutArgs) => tf.layers.Layer;

/**
 * tfjs' Dropout (same class name and config, so a saved model loads in plain tfjs, where dropout
 * is inactive at inference anyway) drawing its training masks from a run's DropoutMasks once
 * `attachMasks` gave it a source: a seeded tfjs Dropout draws the same mask on every batch, an
 * unseeded one new masks on every run.
 */
export class SeededDropout extends TfDropout {
  source: MaskSource | undefined;

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor | tf.Tensor[] {
    const { rate } = this as unknown as { rate: number };
    if (!this.source || !kwargs.training || !(rate > 0 && rate < 1)) return super.call(inputs, kwargs);
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.tidy(() => tf.mul(x, this.source!(x.shape, rate)));
  }
}

/** A recurrent cell's dropout: its rates, tfjs' hook for drawing its masks, and the masks of its last call. */
interface CellDropout {
  dropout: number;
  recurrentDropout: number;
  dropoutFunc?: (ones: tf.Tensor, rate: number) => tf.Tensor;
  dropoutMask: tf.Tensor | tf.Tensor[] | null;
  recurrentDropoutMask: tf.Tensor | tf.Tensor[] | null;
}

/** The recurrent cells of a model's layer (a Bidirectional layer has one per direction). */
function cellsOf(layer: tf.layers.Layer): CellDropout[] {
  const l = layer as unknown as { cell?: CellDropout; forwardLayer?: { cell: CellDropout }; backwardLayer?: { cell: CellDropout } };
  return [l.cell, l.forwardLayer?.cell, l.backwardLayer?.cell].filter((c) => c !== undefined);
}

/**
 * Gives every layer of a built model that draws dropout masks (dropout layers, also inside
 * timeDistributed; recurrent layers with input or recurrent dropout) its source in `masks`,
 * numbered in model.layers order. Without `masks` the layers draw tfjs' unseeded masks.
 * tfjs keeps a recurrent cell's masks of its last call until its next one and model.dispose()
 * forgets them: the model's dispose frees them too.
 */
export function attachMasks(model: tf.LayersModel, masks: DropoutMasks | undefined): void {
  let drawing = 0;
  const allCells: CellDropout[] = [];
  for (const layer of model.layers) {
    const inner = (layer as unknown as { layer?: tf.layers.Layer }).layer;
    const dropouts = [layer, inner].filter((l) => l instanceof SeededDropout);
    const cells = cellsOf(layer);
    allCells.push(...cells);
    // Every dropout layer counts, rate 0 included, as the graph engine counts them.
    if (!masks || (dropouts.length === 0 && !cells.some((c) => c.dropout > 0 || c.recurrentDropout > 0))) continue;
    const source = masks.source(++drawing);
    for (const d of dropouts) d.source = source;
    for (const c of cells) c.dropoutFunc = (ones, rate) => source(ones.shape, rate);
  }
  if (allCells.length === 0) return;
  const dispose = model.dispose.bind(model);
  model.dispose = () => {
    for (const cell of allCells) {
      tf.dispose([cell.dropoutMask ?? [], cell.recurrentDropoutMask ?? []].flat());
      cell.dropoutMask = cell.recurrentDropoutMask = null;
    }
    return dispose();
  };
}
