import * as tf from '@tensorflow/tfjs';
import type { JobSpec, LayerSpec } from '../spec/index.js';
import { deriveSeed } from './rng.js';

type InitializerName = NonNullable<Extract<LayerSpec, { kernelInitializer: unknown }>['kernelInitializer']>;
type Regularizer = { l1: number; l2: number } | undefined;

/** Keras' defaults for the parameterised initializers; every random one takes the layer's seed. */
function initializer(name: InitializerName, seed: number): ReturnType<typeof tf.initializers.zeros> {
  const I = tf.initializers;
  switch (name) {
    case 'zeros':
      return I.zeros();
    case 'ones':
      return I.ones();
    case 'randomNormal':
      return I.randomNormal({ mean: 0, stddev: 0.05, seed });
    case 'randomUniform':
      return I.randomUniform({ minval: -0.05, maxval: 0.05, seed });
    case 'truncatedNormal':
      return I.truncatedNormal({ mean: 0, stddev: 0.05, seed });
    case 'orthogonal':
      return I.orthogonal({ gain: 1, seed });
    default:
      return I[name]({ seed });
  }
}

type TfRegularizer = ReturnType<typeof tf.regularizers.l1l2>;
const L1L2 = tf.regularizers.l1l2({ l1: 0, l2: 0 }).constructor as new (args: { l1: number; l2: number }) => TfRegularizer;

/** |x| whose gradient at 0 is sign(0) = 0, as in PyTorch (tfjs' abs gradient is -1 there). */
const absSign = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([x]);
  return { value: tf.abs(x), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => dy.mul(tf.sign(saved[0]!)) };
});

/**
 * tfjs' L1L2 (same class name and config, so saved models load anywhere) with PyTorch's L1
 * subgradient at zero: l1 * sum|w| + l2 * sum w^2.
 */
class TorchL1L2 extends L1L2 {
  constructor(private readonly coefficients: { l1: number; l2: number }) {
    super(coefficients);
  }

  override apply(x: tf.Tensor): tf.Scalar {
    const { l1, l2 } = this.coefficients;
    return tf.tidy(() => {
      let total = tf.scalar(0);
      if (l1 > 0) total = total.add(tf.sum(absSign(x)).mul(l1));
      if (l2 > 0) total = total.add(tf.sum(tf.square(x)).mul(l2));
      return total as tf.Scalar;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.coefficients };
  }
}

const regularizer = (r: Regularizer): TfRegularizer | undefined => (r && (r.l1 > 0 || r.l2 > 0) ? new TorchL1L2(r) : undefined);

function buildLayer(spec: LayerSpec, seed: number, inputShape?: number[]): tf.layers.Layer {
  const base = inputShape ? { inputShape } : {};
  const init = (name: InitializerName, stream: number) => initializer(name, deriveSeed(seed, stream));
  /** The options every layer with a kernel and a bias shares. */
  const weights = (l: Extract<LayerSpec, { type: 'dense' | 'conv2d' }>) => ({
    activation: l.activation,
    useBias: l.useBias,
    kernelInitializer: init(l.kernelInitializer, 0),
    biasInitializer: init(l.biasInitializer, 1),
    kernelRegularizer: regularizer(l.kernelRegularizer),
    biasRegularizer: regularizer(l.biasRegularizer),
  });
  switch (spec.type) {
    case 'dense':
      return tf.layers.dense({ ...base, ...weights(spec), units: spec.units });
    case 'conv2d':
      return tf.layers.conv2d({
        ...base,
        ...weights(spec),
        filters: spec.filters,
        kernelSize: spec.kernelSize,
        strides: spec.strides,
        padding: spec.padding,
      });
    case 'dropout':
      // Unseeded on purpose: a seeded tfjs dropout draws the same mask on every batch.
      return tf.layers.dropout({ ...base, rate: spec.rate });
    case 'activation':
      return tf.layers.activation({ ...base, activation: spec.activation });
    case 'flatten':
      return tf.layers.flatten(base);
    case 'batchNormalization':
      return tf.layers.batchNormalization({ ...base, momentum: spec.momentum, epsilon: spec.epsilon });
    case 'maxPooling2d':
      return tf.layers.maxPooling2d({ ...base, poolSize: spec.poolSize, strides: spec.strides, padding: spec.padding });
    case 'simpleRNN':
    case 'lstm':
    case 'gru': {
      const config = {
        ...base,
        units: spec.units,
        activation: spec.activation,
        returnSequences: spec.returnSequences,
        useBias: spec.useBias,
        kernelInitializer: init(spec.kernelInitializer, 0),
        recurrentInitializer: init(spec.recurrentInitializer, 2),
        biasInitializer: init(spec.biasInitializer, 1),
        kernelRegularizer: regularizer(spec.kernelRegularizer),
      };
      return spec.type === 'lstm' ? tf.layers.lstm(config) : spec.type === 'gru' ? tf.layers.gru(config) : tf.layers.simpleRNN(config);
    }
  }
}

/** A fresh, uncompiled sequential model whose initial weights depend only on the spec and seed. */
export function buildModel(model: JobSpec['model'], seed: number): tf.Sequential {
  const layers = model.layers.map((layer, i) => buildLayer(layer, deriveSeed(seed, 100 + i), i === 0 ? model.inputShape : undefined));
  return tf.sequential({ layers });
}
