import { elementCount } from '../../spec/index.js';
import { DType, type Output } from './native.js';
import type { GraphBuilder } from './ops.js';
import { activation } from './activations.js';
import { type CellKind, unroll } from './recurrent.js';

/**
 * The graph form of each tfjs layer Descent builds (src/training/model.ts is the eager form):
 * the builder reads the layer's class and config, so both engines train the same model with
 * the same (seeded) initial weights, and the trained variables are written back into it.
 */

/** The parts of a tfjs layer the builders read. */
export interface LayerView {
  name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  weights: { id: number; name: string; shape: number[]; trainable: boolean }[];
  outputShape: unknown;
}

export interface LayerContext {
  g: GraphBuilder;
  /** The current value of the layer's i-th weight. */
  weight(i: number): Output;
  /** Adds a term to the training loss (regularizers). */
  addLoss(term: Output): void;
  /** Sets the layer's i-th (non-trainable) weight to `value` as part of the step. */
  update(i: number, value: Output): void;
  /** A fresh per-step seed pair for a stateless random op, distinct per call site. */
  seed(): Output;
}

type Builder = (ctx: LayerContext, inputs: Output[], config: Record<string, unknown>, layer: LayerView) => Output;

/** [n] or n -> [n, n] (kernel sizes, strides, dilations as tfjs configs hold them). */
const pair = (v: unknown): [number, number] => {
  const a = Array.isArray(v) ? (v as number[]) : [v as number];
  return [a[0]!, a[1] ?? a[0]!];
};
const padding = (c: Record<string, unknown>) => (c.padding === 'same' ? 'SAME' : 'VALID');
const sliceShape = (layer: LayerView) => (layer.outputShape as (number | null)[]).slice(1) as number[];

/** l1 * sum|w| + l2 * sum w^2 (Abs' gradient is sign(w), 0 at 0, as PyTorch's). */
export function penalty(g: GraphBuilder, x: Output, r: { l1: number; l2: number }): Output | undefined {
  const terms: Output[] = [];
  if (r.l1 > 0) terms.push(g.scale(g.total(g.unary('Abs', x)), r.l1));
  if (r.l2 > 0) terms.push(g.scale(g.total(g.unary('Square', x)), r.l2));
  return terms.length ? g.addN(terms) : undefined;
}

/** The coefficients of a serialized regularizer in a layer config, when it has one. */
const regularizerOf = (v: unknown): { l1: number; l2: number } | undefined => {
  const c = (v as { config?: { l1?: number; l2?: number } } | null)?.config;
  return c ? { l1: c.l1 ?? 0, l2: c.l2 ?? 0 } : undefined;
};

/** Adds the weight penalties a layer's config asks for (kernel, bias, ... regularizers). */
function regularize(ctx: LayerContext, config: Record<string, unknown>, keys: [string, number][]): void {
  for (const [key, index] of keys) {
    const r = regularizerOf(config[key]);
    const p = r && penalty(ctx.g, ctx.weight(index), r);
    if (p) ctx.addLoss(p);
  }
}

/** Kernel, then bias (when used), then activation: the tail every weighted layer shares. */
function biasAndActivation(ctx: LayerContext, y: Output, c: Record<string, unknown>, biasIndex: number): Output {
  const withBias = c.useBias ? ctx.g.out('BiasAdd', [y, ctx.weight(biasIndex)]) : y;
  if (c.useBias) regularize(ctx, c, [['biasRegularizer', biasIndex]]);
  return activation(ctx.g, c.activation as string, withBias);
}

/** A 2-D convolution (Conv2D, or DepthwiseConv2dNative for a depthwise kernel) as a layer config sets it. */
function conv2d(ctx: LayerContext, x: Output, kernel: Output, c: Record<string, unknown>, type = 'Conv2D'): Output {
  const [sh, sw] = pair(c.strides);
  const [dh, dw] = pair(c.dilationRate ?? 1);
  return ctx.g.out(
    type,
    [x, kernel],
    [
      ['strides', 'ints', [1, sh, sw, 1]],
      ['padding', 's', padding(c)],
      ['dilations', 'ints', [1, dh, dw, 1]],
    ],
  );
}

function pool2d(ctx: LayerContext, type: 'MaxPool' | 'AvgPool', x: Output, c: Record<string, unknown>): Output {
  const [ph, pw] = pair(c.poolSize);
  const [sh, sw] = pair(c.strides ?? c.poolSize);
  return ctx.g.out(
    type,
    [x],
    [
      ['ksize', 'ints', [1, ph, pw, 1]],
      ['strides', 'ints', [1, sh, sw, 1]],
      ['padding', 's', padding(c)],
    ],
  );
}

/** A 1-D op as its 2-D twin over a height of 1, as TensorFlow itself does. */
function as1d(ctx: LayerContext, x: Output, f: (x4: Output) => Output): Output {
  return ctx.g.squeeze(f(ctx.g.expandDims(x, 1)), 1);
}
const widen = (c: Record<string, unknown>, keys: string[]) =>
  Object.fromEntries(Object.entries(c).map(([k, v]) => [k, keys.includes(k) && v !== undefined && v !== null ? [1, pair(v)[0]] : v]));

const builders: Record<string, Builder> = {
  Dense: (ctx, [x], c) => {
    const { g } = ctx;
    const shape = g.shapeOf(x!);
    const units = c.units as number;
    const flat = shape.length > 2 ? g.reshape(x!, [-1, shape.at(-1)!]) : x!;
    regularize(ctx, c, [['kernelRegularizer', 0]]);
    let y = g.out('MatMul', [flat, ctx.weight(0)]);
    if (shape.length > 2) y = g.reshape(y, [-1, ...shape.slice(1, -1), units]);
    return biasAndActivation(ctx, y, c, 1);
  },
  Conv2D: (ctx, [x], c) => {
    regularize(ctx, c, [['kernelRegularizer', 0]]);
    return biasAndActivation(ctx, conv2d(ctx, x!, ctx.weight(0), c), c, 1);
  },
  Conv1D: (ctx, [x], c) => {
    regularize(ctx, c, [['kernelRegularizer', 0]]);
    const kernel = ctx.g.expandDims(ctx.weight(0), 0);
    const y = as1d(ctx, x!, (x4) => conv2d(ctx, x4, kernel, widen(c, ['strides', 'dilationRate'])));
    return biasAndActivation(ctx, y, c, 1);
  },
  DepthwiseConv2D: (ctx, [x], c) => {
    regularize(ctx, c, [['depthwiseRegularizer', 0]]);
    return biasAndActivation(ctx, conv2d(ctx, x!, ctx.weight(0), c, 'DepthwiseConv2dNative'), c, 1);
  },
  SeparableConv2D: (ctx, [x], c) => {
    regularize(ctx, c, [
      ['depthwiseRegularizer', 0],
      ['pointwiseRegularizer', 1],
    ]);
    const d = conv2d(ctx, x!, ctx.weight(0), c, 'DepthwiseConv2dNative');
    const y = ctx.g.out(
      'Conv2D',
      [d, ctx.weight(1)],
      [
        ['strides', 'ints', [1, 1, 1, 1]],
        ['padding', 's', 'VALID'],
      ],
    );
    return biasAndActivation(ctx, y, c, 2);
  },
  MaxPooling2D: (ctx, [x], c) => pool2d(ctx, 'MaxPool', x!, c),
  AveragePooling2D: (ctx, [x], c) => pool2d(ctx, 'AvgPool', x!, c),
  MaxPooling1D: (ctx, [x], c) => as1d(ctx, x!, (x4) => pool2d(ctx, 'MaxPool', x4, widen(c, ['poolSize', 'strides']))),
  AveragePooling1D: (ctx, [x], c) => as1d(ctx, x!, (x4) => pool2d(ctx, 'AvgPool', x4, widen(c, ['poolSize', 'strides']))),
  GlobalMaxPooling1D: (ctx, [x]) => ctx.g.max(x!, [1]),
  GlobalAveragePooling1D: (ctx, [x]) => ctx.g.mean(x!, [1]),
  GlobalMaxPooling2D: (ctx, [x]) => ctx.g.max(x!, [1, 2]),
  GlobalAveragePooling2D: (ctx, [x]) => ctx.g.mean(x!, [1, 2]),
  Flatten: (ctx, [x], _c, layer) => ctx.g.reshape(x!, [-1, elementCount(sliceShape(layer))]),
  Reshape: (ctx, [x], _c, layer) => ctx.g.reshape(x!, [-1, ...sliceShape(layer)]),
  Activation: (ctx, [x], c) => activation(ctx.g, c.activation as string, x!),
  LeakyReLU: (ctx, [x], c) => ctx.g.out('LeakyRelu', [x!], [['alpha', 'f', c.alpha as number]]),
  Dropout: (ctx, [x], c) => {
    // Inverted dropout with a mask drawn from a per-step seed: reproducible for a seeded job.
    const { g } = ctx;
    const keep = 1 - (c.rate as number);
    const uniform = g.out(
      'StatelessRandomUniform',
      [g.out('Shape', [x!], [['out_type', 'type', DType.int32]]), ctx.seed()],
      [['dtype', 'type', DType.float32]],
    );
    const mask = g.unary('Floor', g.shift(uniform, keep));
    return g.mul(x!, g.scale(mask, 1 / keep));
  },
  BatchNormalization: (ctx, [x], c) => {
    // Training mode, as tfjs' layer: normalize by the batch's moments (gradients flow through
    // them) and move the running moments toward them: m <- m - (m - batch) * (1 - momentum).
    const { g } = ctx;
    const axes = g
      .shapeOf(x!)
      .slice(0, -1)
      .map((_, i) => i);
    const mean = g.mean(x!, axes);
    const centered = g.sub(x!, mean);
    const variance = g.mean(g.unary('Square', centered), axes);
    let y = g.mul(centered, g.unary('Rsqrt', g.shift(variance, c.epsilon as number)));
    let w = 0;
    if (c.scale) y = g.mul(y, ctx.weight(w++));
    if (c.center) y = g.add(y, ctx.weight(w++));
    const decay = 1 - (c.momentum as number);
    const moving = (i: number, batch: Output) => ctx.update(i, g.sub(ctx.weight(i), g.scale(g.sub(ctx.weight(i), batch), decay)));
    moving(w, mean);
    moving(w + 1, variance);
    return y;
  },
  LayerNormalization: (ctx, [x], c) => {
    const { g } = ctx;
    const mean = g.mean(x!, [-1], true);
    const centered = g.sub(x!, mean);
    const variance = g.mean(g.unary('Square', centered), [-1], true);
    let y = g.mul(centered, g.unary('Rsqrt', g.shift(variance, c.epsilon as number)));
    let w = 0;
    if (c.scale) y = g.mul(y, ctx.weight(w++));
    if (c.center) y = g.add(y, ctx.weight(w));
    return y;
  },
  Embedding: (ctx, [x], c) => {
    regularize(ctx, c, [['embeddingsRegularizer', 0]]);
    return ctx.g.rows(ctx.weight(0), ctx.g.cast(x!, DType.int32));
  },
  Add: (ctx, xs) => ctx.g.addN(xs),
  Multiply: (ctx, xs) => xs.slice(1).reduce((a, b) => ctx.g.mul(a, b), xs[0]!),
  Average: (ctx, xs) => ctx.g.scale(ctx.g.addN(xs), 1 / xs.length),
  Concatenate: (ctx, xs, c) => ctx.g.out('ConcatV2', [xs, ctx.g.ints([c.axis as number], [])]),
  SimpleRNN: (ctx, [x], c) => recurrentLayer(ctx, 'SimpleRNN', x!, c, 0),
  LSTM: (ctx, [x], c) => recurrentLayer(ctx, 'LSTM', x!, c, 0),
  GRU: (ctx, [x], c) => recurrentLayer(ctx, 'GRU', x!, c, 0),
  Bidirectional: (ctx, [x], c) => {
    // tfjs' weights: the forward layer's, then the backward one's; the backward outputs are
    // reversed back into time order before merging.
    const inner = c.layer as { className: CellKind; config: Record<string, unknown> };
    const count = inner.config.useBias ? 3 : 2;
    const forward = recurrentLayer(ctx, inner.className, x!, inner.config, 0);
    let backward = recurrentLayer(ctx, inner.className, x!, { ...inner.config, goBackwards: !inner.config.goBackwards }, count);
    const { g } = ctx;
    if (inner.config.returnSequences) backward = g.out('ReverseV2', [backward, g.ints([1])]);
    switch (c.mergeMode) {
      case 'sum':
        return g.add(forward, backward);
      case 'mul':
        return g.mul(forward, backward);
      case 'ave':
        return g.scale(g.add(forward, backward), 0.5);
      default:
        return g.out('ConcatV2', [[forward, backward], g.ints([-1], [])]);
    }
  },
  ActivityRegularization: (ctx, [x], c) => {
    // Keras divides the penalty by the batch size.
    const p = penalty(ctx.g, x!, { l1: c.l1 as number, l2: c.l2 as number });
    if (p) {
      const shape = ctx.g.out('Shape', [x!], [['out_type', 'type', DType.int32]]);
      const batch = ctx.g.cast(
        ctx.g.out('StridedSlice', [shape, ctx.g.ints([0]), ctx.g.ints([1]), ctx.g.ints([1])], [['shrink_axis_mask', 'i', 1]]),
        DType.float32,
      );
      ctx.addLoss(ctx.g.div(p, batch));
    }
    return x!;
  },
};

/** A recurrent layer whose weights start at the layer's `first` weight (kernel, recurrent kernel, bias). */
function recurrentLayer(ctx: LayerContext, kind: CellKind, x: Output, c: Record<string, unknown>, first: number): Output {
  regularize(ctx, c, [
    ['kernelRegularizer', first],
    ['recurrentRegularizer', first + 1],
    ...(c.useBias ? ([['biasRegularizer', first + 2]] as [string, number][]) : []),
  ]);
  const weights = { kernel: ctx.weight(first), recurrent: ctx.weight(first + 1), ...(c.useBias ? { bias: ctx.weight(first + 2) } : {}) };
  return unroll(ctx.g, kind, x, c, weights);
}

/** The graph form of one tfjs layer applied to its inputs. */
export function buildLayer(ctx: LayerContext, layer: LayerView, inputs: Output[]): Output {
  const builder = builders[layer.getClassName()];
  if (!builder) throw new Error(`the graph engine has no builder for ${layer.getClassName()} (${layer.name})`);
  return builder(ctx, inputs, layer.getConfig(), layer);
}
