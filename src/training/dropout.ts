import * as tf from '@tensorflow/tfjs';

/**
 * What separates the seeds of two masks drawn in one step: the n-th mask of a step comes from the
 * seed pair [jobSeed + n * MASK_SITE_STRIDE, step], on either engine (the graph engine adds it in
 * its graph).
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

/**
 * The dropout masks of one training run (the eager engine's). `begin(step)` starts a training
 * step; the masks drawn in it, numbered in the order the forward pass draws them, depend only on
 * the job seed, the step and that number. A run resumed from a checkpoint therefore draws the
 * masks an uninterrupted run draws, and a seed gives the same masks every time.
 */
export class DropoutMasks {
  private step = 0;
  private drawn = 0;

  constructor(private readonly seed: number) {}

  /** Starts training step `step` (from 1: the optimizer's iteration count after it). */
  begin(step: number): void {
    this.step = step;
    this.drawn = 0;
  }

  /** Inverted-dropout multipliers: 0 with probability `rate`, else 1 / (1 - rate). */
  draw(shape: number[], rate: number): tf.Tensor {
    this.drawn += 1;
    const seed: [number, number] = [(this.seed + this.drawn * MASK_SITE_STRIDE) | 0, this.step | 0];
    const keep = 1 - rate;
    // floor(u + keep) is 1 with probability keep: the graph engine's ops, in its order.
    return tf.tidy(() => tf.mul(tf.floor(tf.add(statelessUniform(shape, seed), keep)), 1 / keep));
  }
}

type DropoutArgs = { rate: number; name?: string };
const TfDropout = tf.layers.dropout({ rate: 0 }).constructor as new (args: DropoutArgs) => tf.layers.Layer;

/**
 * tfjs' Dropout (same class name and config, so a saved model loads in plain tfjs, where dropout
 * is inactive at inference anyway) drawing its training masks from a run's DropoutMasks: a seeded
 * tfjs Dropout would draw the same mask on every batch, an unseeded one a new one on every run.
 */
export class SeededDropout extends TfDropout {
  constructor(
    args: DropoutArgs,
    private readonly masks: DropoutMasks,
  ) {
    super(args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const { rate } = this as unknown as { rate: number };
    if (!kwargs.training || !(rate > 0 && rate < 1)) return x;
    return tf.tidy(() => tf.mul(x, this.masks.draw(x.shape, rate)));
  }
}

/** A recurrent cell's `dropoutFunc` (tfjs' hook for its input and recurrent masks) drawing from `masks`. */
export const cellDropout =
  (masks: DropoutMasks) =>
  (ones: tf.Tensor, rate: number): tf.Tensor =>
    masks.draw(ones.shape, rate);
