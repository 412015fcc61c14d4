import * as tf from '@tensorflow/tfjs';
import {
  type Activation,
  type InitializerName,
  type InnerLayerSpec,
  type LayerSpec,
  type ModelSpec,
  type RegularizerSpec,
  elementCount,
  resolveGraph,
} from '../spec/index.js';
import { SeededOrthogonal } from './orthogonal.js';
import { layerNormalization } from './layer-normalization.js';
import { deriveSeed } from './rng.js';
import { type DropoutMasks, SeededDropout, attachMasks } from './dropout.js';
import { InvalidModelError } from './errors.js';

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
      return new SeededOrthogonal(1, seed);
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

/**
 * Keras' ActivityRegularization: the identity, adding l1*sum|a| + l2*sum a^2 of its input over
 * the batch, divided by the batch size (as Keras does), to the training loss. tfjs refuses
 * layers with an `activityRegularizer` option, so Descent places this layer after them.
 */
class ActivityRegularization extends tf.layers.Layer {
  static readonly className = 'ActivityRegularization';
  private readonly coefficients: RegularizerSpec;
  /** This batch's activations, captured during a training step for the penalty. */
  private latest: tf.Tensor | undefined;

  constructor(args: RegularizerSpec & { name?: string }) {
    super(args.name ? { name: args.name } : {});
    this.coefficients = { l1: args.l1, l2: args.l2 };
    const penalty = new TorchL1L2(this.coefficients);
    this.addLoss(() => {
      const a = this.latest;
      if (!a || a.isDisposed) return tf.scalar(0);
      return penalty.apply(a).div(a.shape[0]!) as tf.Scalar;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    this.latest = kwargs.training ? x : undefined;
    return x;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...this.coefficients };
  }
}
tf.serialization.registerClass(ActivityRegularization);

const regularizer = (r: RegularizerSpec | undefined): TfRegularizer | undefined => (r && (r.l1 > 0 || r.l2 > 0) ? new TorchL1L2(r) : undefined);

/** Keras' LeakyReLU slope, the default of `leakyRelu`. */
const LEAKY_RELU_ALPHA = 0.3;

type TfActivation = Exclude<Activation, 'leakyRelu'>;
/** `leakyRelu` is a layer in tfjs, not an activation: the layer runs linear and a LeakyReLU follows it. */
const split = (activation: Activation): [TfActivation, tf.layers.Layer[]] =>
  activation === 'leakyRelu' ? ['linear', [tf.layers.leakyReLU({ alpha: LEAKY_RELU_ALPHA })]] : [activation, []];

/** The layers after a spec layer's main tfjs layer: its activity penalty, when it has one. */
function activity(spec: LayerSpec | InnerLayerSpec): tf.layers.Layer[] {
  const r = 'activityRegularizer' in spec ? spec.activityRegularizer : undefined;
  return r && (r.l1 > 0 || r.l2 > 0) ? [new ActivityRegularization(r)] : [];
}

/**
 * The tfjs layers one spec layer becomes (a second one only for a `leakyRelu` activation).
 * Random initializers take seeds derived from the layer's seed, one stream per weight.
 */
function buildLayers(spec: LayerSpec | InnerLayerSpec, seed: number, name?: string): tf.layers.Layer[] {
  const base = name ? { name } : {};
  const init = (n: InitializerName, stream: number) => initializer(n, deriveSeed(seed, stream));
  const bias = (l: { useBias: boolean; biasInitializer: InitializerName; biasRegularizer?: RegularizerSpec }) => ({
    useBias: l.useBias,
    biasInitializer: init(l.biasInitializer, 1),
    biasRegularizer: regularizer(l.biasRegularizer),
  });
  const kernel = (l: { kernelInitializer: InitializerName; kernelRegularizer?: RegularizerSpec }) => ({
    kernelInitializer: init(l.kernelInitializer, 0),
    kernelRegularizer: regularizer(l.kernelRegularizer),
  });
  switch (spec.type) {
    case 'dense': {
      const [activation, after] = split(spec.activation);
      return [tf.layers.dense({ ...base, ...kernel(spec), ...bias(spec), activation, units: spec.units }), ...after];
    }
    case 'conv1d': {
      const [activation, after] = split(spec.activation);
      const { filters, kernelSize, strides, padding, dilationRate } = spec;
      return [tf.layers.conv1d({ ...base, ...kernel(spec), ...bias(spec), activation, filters, kernelSize, strides, padding, dilationRate }), ...after];
    }
    case 'conv2d': {
      const [activation, after] = split(spec.activation);
      const { filters, kernelSize, strides, padding, dilationRate } = spec;
      return [tf.layers.conv2d({ ...base, ...kernel(spec), ...bias(spec), activation, filters, kernelSize, strides, padding, dilationRate }), ...after];
    }
    case 'depthwiseConv2d':
    case 'separableConv2d': {
      const [activation, after] = split(spec.activation);
      const common = {
        ...base,
        ...bias(spec),
        activation,
        kernelSize: spec.kernelSize,
        strides: spec.strides,
        padding: spec.padding,
        depthMultiplier: spec.depthMultiplier,
        depthwiseInitializer: init(spec.depthwiseInitializer, 0),
        depthwiseRegularizer: regularizer(spec.depthwiseRegularizer),
      };
      const layer =
        spec.type === 'depthwiseConv2d'
          ? tf.layers.depthwiseConv2d({ ...common, kernelSize: common.kernelSize })
          : tf.layers.separableConv2d({
              ...common,
              filters: spec.filters,
              pointwiseInitializer: init(spec.pointwiseInitializer, 3),
              pointwiseRegularizer: regularizer(spec.pointwiseRegularizer),
            });
      return [layer, ...after];
    }
    case 'dropout':
      return [new SeededDropout({ ...base, rate: spec.rate })];
    case 'activation':
      return [
        spec.activation === 'leakyRelu'
          ? tf.layers.leakyReLU({ ...base, alpha: spec.alpha ?? LEAKY_RELU_ALPHA })
          : tf.layers.activation({ ...base, activation: spec.activation }),
      ];
    case 'flatten':
      return [tf.layers.flatten(base)];
    case 'reshape':
      return [tf.layers.reshape({ ...base, targetShape: spec.targetShape })];
    case 'batchNormalization':
      return [tf.layers.batchNormalization({ ...base, momentum: spec.momentum, epsilon: spec.epsilon })];
    case 'layerNormalization':
      return [layerNormalization({ ...base, epsilon: spec.epsilon, center: spec.center, scale: spec.scale })];
    case 'maxPooling1d':
    case 'averagePooling1d': {
      const args = { ...base, poolSize: spec.poolSize, strides: spec.strides, padding: spec.padding };
      return [spec.type === 'maxPooling1d' ? tf.layers.maxPooling1d(args) : tf.layers.averagePooling1d(args)];
    }
    case 'maxPooling2d':
    case 'averagePooling2d': {
      const args = { ...base, poolSize: spec.poolSize, strides: spec.strides, padding: spec.padding };
      return [spec.type === 'maxPooling2d' ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args)];
    }
    case 'globalMaxPooling1d':
      return [tf.layers.globalMaxPooling1d(base)];
    case 'globalAveragePooling1d':
      return [tf.layers.globalAveragePooling1d(base)];
    case 'globalMaxPooling2d':
      return [tf.layers.globalMaxPooling2d(base)];
    case 'globalAveragePooling2d':
      return [tf.layers.globalAveragePooling2d(base)];
    case 'embedding':
      return [
        tf.layers.embedding({
          ...base,
          inputDim: spec.inputDim,
          outputDim: spec.outputDim,
          embeddingsInitializer: init(spec.embeddingsInitializer, 0),
          embeddingsRegularizer: regularizer(spec.embeddingsRegularizer),
        }),
      ];
    case 'simpleRNN':
    case 'lstm':
    case 'gru': {
      const config = {
        ...base,
        ...kernel(spec),
        ...bias(spec),
        units: spec.units,
        activation: spec.activation,
        returnSequences: spec.returnSequences,
        recurrentInitializer: init(spec.recurrentInitializer, 2),
        recurrentRegularizer: regularizer(spec.recurrentRegularizer),
        dropout: spec.dropout,
        recurrentDropout: spec.recurrentDropout,
      };
      const rnn = spec.type === 'lstm' ? tf.layers.lstm(config) : spec.type === 'gru' ? tf.layers.gru(config) : tf.layers.simpleRNN(config);
      return [withCellPenalties(rnn, spec, () => [cellOf(rnn)])];
    }
    case 'bidirectional': {
      const [inner] = buildLayers(spec.layer, seed);
      const layer = tf.layers.bidirectional({ ...base, layer: inner as RNN, mergeMode: spec.mergeMode });
      const { forwardLayer, backwardLayer } = layer as unknown as Record<'forwardLayer' | 'backwardLayer', tf.layers.Layer>;
      return [withCellPenalties(layer, spec.layer, () => [cellOf(forwardLayer!), cellOf(backwardLayer!)])];
    }
    case 'timeDistributed': {
      const [inner, ...after] = buildLayers(spec.layer, seed);
      return [tf.layers.timeDistributed({ ...base, layer: inner! }), ...after, ...activity(spec.layer)];
    }
    case 'add':
      return [tf.layers.add(base)];
    case 'multiply':
      return [tf.layers.multiply(base)];
    case 'average':
      return [tf.layers.average(base)];
    case 'concatenate':
      return [tf.layers.concatenate({ ...base, axis: spec.axis })];
  }
}

type RNN = Parameters<typeof tf.layers.bidirectional>[0]['layer'];
type RecurrentSpec = Extract<InnerLayerSpec, { recurrentInitializer: unknown }>;

const cellOf = (rnn: tf.layers.Layer) => (rnn as unknown as { cell: tf.layers.Layer }).cell;

/** The spec option that penalizes each weight of a recurrent cell, by the weight's name. */
const CELL_PENALTIES = { kernel: 'kernelRegularizer', recurrent_kernel: 'recurrentRegularizer', bias: 'biasRegularizer' } as const;

/**
 * tfjs' recurrent layers keep their weights in a cell, and a model adds to the loss only the
 * penalties of its own layers, so the cells' kernel, recurrent and bias penalties would never
 * reach the loss (Keras adds them). The layer answers for its cells' penalties instead.
 */
function withCellPenalties<L extends tf.layers.Layer>(layer: L, spec: RecurrentSpec, cells: () => tf.layers.Layer[]): L {
  const own = layer.calculateLosses.bind(layer);
  layer.calculateLosses = () => [
    ...own(),
    ...cells().flatMap((cell) =>
      cell.weights.flatMap((w) => {
        const option = CELL_PENALTIES[w.originalName.split('/').at(-1) as keyof typeof CELL_PENALTIES];
        const r = option && regularizer(spec[option]);
        return r ? [r.apply(w.read())] : [];
      }),
    ),
  ];
  return layer;
}

/**
 * tfjs builds a Bidirectional layer's backward RNN from the forward one's config, seeded
 * initializers included, so both directions would start equal; Keras starts them independent.
 * The backward weights (kernel, recurrent kernel, bias) get initializers of their own seeds.
 */
function reseedBackward(layer: tf.layers.Layer, inner: RecurrentSpec, seed: number): void {
  const backward = (layer as unknown as { backwardLayer: tf.layers.Layer }).backwardLayer;
  const names = [inner.kernelInitializer, inner.recurrentInitializer, inner.biasInitializer];
  const current = backward.getWeights();
  const fresh = current.map((w, k) => initializer(names[k]!, deriveSeed(seed, 10 + k)).apply(w.shape));
  backward.setWeights(fresh);
  tf.dispose(fresh);
}

/**
 * A fresh, uncompiled model whose initial weights depend only on the spec and seed: layer i
 * draws from deriveSeed(seed, 100 + i), so adding a layer at the end leaves the others' weights
 * as they were. Training passes `masks`, the source of every dropout mask (dropout layers, the
 * recurrent layers' input and recurrent dropout).
 */
export function buildModel(model: ModelSpec, seed: number, masks?: DropoutMasks): tf.LayersModel {
  const { graph, issues } = resolveGraph(model);
  if (!graph) throw new InvalidModelError(issues.map((i) => i.message).join('; '));
  const tensors = new Map<string, tf.SymbolicTensor>();
  const inputs = graph.inputs.map((i) => {
    const t = tf.input({ shape: i.shape, name: i.name });
    tensors.set(i.name, t);
    return t;
  });
  for (const node of graph.nodes) {
    const sources = node.inputs.map((name) => tensors.get(name)!);
    let out: tf.SymbolicTensor | tf.SymbolicTensor[] = sources.length === 1 ? sources[0]! : sources;
    const layerSeed = deriveSeed(seed, 100 + node.index);
    for (const layer of [...buildLayers(node.spec, layerSeed, node.spec.name), ...activity(node.spec)]) {
      out = layer.apply(out) as tf.SymbolicTensor;
      if (node.spec.type === 'bidirectional' && layer.getClassName() === 'Bidirectional') reseedBackward(layer, node.spec.layer, layerSeed);
    }
    tensors.set(node.name, out as tf.SymbolicTensor);
  }
  const built = tf.model({ inputs, outputs: tensors.get(graph.output)! });
  attachMasks(built, masks);
  return built;
}

/**
 * What to feed a model for a batch of samples: the samples themselves, or for a model with
 * several inputs each sample's flattened features split among them in order (the caller
 * disposes the parts it gets back when they are not `x`).
 */
export function modelInputs(model: tf.LayersModel, x: tf.Tensor): tf.Tensor | tf.Tensor[] {
  if (model.inputs.length === 1) return x;
  return tf.tidy(() => {
    const n = x.shape[0]!;
    const flat = x.reshape([n, -1]);
    const shapes = model.inputs.map((i) => i.shape.slice(1) as number[]);
    const parts = tf.split(flat, shapes.map(elementCount), 1);
    return parts.map((p, i) => p.reshape([n, ...shapes[i]!]));
  });
}
