import type { Loss } from '../../spec/index.js';
import { DType, type Output } from './native.js';
import type { GraphBuilder } from './ops.js';

/** tfjs' backend epsilon, which its losses clip with. */
const EPSILON = 1e-7;
const FLOAT_MAX = 3.4028234663852886e38;

/**
 * The losses as tfjs-layers defines them (per sample, over the last axis), in graph form; the
 * training loss is their mean over the batch.
 */
export function sampleLoss(g: GraphBuilder, loss: Loss, yTrue: Output, yPred: Output): Output {
  const last = (x: Output) => [g.shapeOf(x).length - 1];
  const meanLast = (x: Output) => g.mean(x, last(x));
  const sumLast = (x: Output) => g.sum(x, last(x));
  const one = g.constant(1);
  const zero = g.constant(0);
  switch (loss) {
    case 'meanSquaredError':
      return meanLast(g.unary('Square', g.sub(yPred, yTrue)));
    case 'meanAbsoluteError':
      return meanLast(g.unary('Abs', g.sub(yPred, yTrue)));
    case 'meanAbsolutePercentageError': {
      const clippedTrue = g.clip(g.unary('Abs', yTrue), EPSILON, FLOAT_MAX);
      return g.scale(meanLast(g.unary('Abs', g.div(g.sub(yTrue, yPred), clippedTrue))), 100);
    }
    case 'meanSquaredLogarithmicError': {
      const log1 = (x: Output) => g.unary('Log', g.add(one, g.clip(x, EPSILON, FLOAT_MAX)));
      return meanLast(g.unary('Square', g.sub(log1(yPred), log1(yTrue))));
    }
    case 'logcosh': {
      const d = g.sub(yPred, yTrue);
      return meanLast(g.shift(g.add(d, g.unary('Softplus', g.scale(d, -2))), -Math.log(2)));
    }
    case 'binaryCrossentropy': {
      const p = g.clip(yPred, EPSILON, 1 - EPSILON);
      const logits = g.unary('Log', g.div(p, g.sub(one, p)));
      const ce = g.add(g.sub(g.unary('Relu', logits), g.mul(logits, yTrue)), g.unary('Log1p', g.unary('Exp', g.unary('Neg', g.unary('Abs', logits)))));
      return meanLast(ce);
    }
    case 'categoricalCrossentropy':
      return categoricalCrossentropy(g, yTrue, yPred);
    case 'sparseCategoricalCrossentropy':
      return categoricalCrossentropy(g, oneHot(g, yTrue, yPred), g.clip(yPred, EPSILON, 1 - EPSILON));
    case 'hinge':
      return meanLast(g.maximum(zero, g.sub(one, g.mul(yTrue, yPred))));
    case 'squaredHinge':
      return meanLast(g.unary('Square', g.maximum(zero, g.sub(one, g.mul(yTrue, yPred)))));
    case 'categoricalHinge': {
      const pos = sumLast(g.mul(yTrue, yPred));
      const neg = g.max(g.mul(g.sub(one, yTrue), yPred), last(yPred));
      return g.maximum(zero, g.add(one, g.sub(neg, pos)));
    }
    case 'kullbackLeiblerDivergence': {
      const t = g.clip(yTrue, EPSILON, 1);
      const p = g.clip(yPred, EPSILON, 1);
      return sumLast(g.mul(yTrue, g.unary('Log', g.div(t, p))));
    }
    case 'poisson':
      return meanLast(g.sub(yPred, g.mul(yTrue, g.unary('Log', g.shift(yPred, EPSILON)))));
  }
}

function categoricalCrossentropy(g: GraphBuilder, target: Output, output: Output): Output {
  const axis = g.shapeOf(output).length - 1;
  const p = g.clip(g.div(output, g.sum(output, [axis], true)), EPSILON, 1 - EPSILON);
  return g.unary('Neg', g.sum(g.mul(target, g.unary('Log', p)), [axis]));
}

/** Integer class targets as one-hot rows shaped like the predictions. */
function oneHot(g: GraphBuilder, yTrue: Output, yPred: Output): Output {
  const classes = g.shapeOf(yPred).at(-1)!;
  const index = g.cast(g.unary('Floor', g.reshape(yTrue, [-1])), DType.int32);
  const hot = g.out('OneHot', [index, g.ints([classes], []), g.constant(1), g.constant(0)]);
  return g.reshape(hot, [-1, ...g.shapeOf(yPred).slice(1)]);
}

/** A metric per sample, as tfjs resolves it for this loss and output width. */
export function sampleMetric(g: GraphBuilder, metric: string, loss: Loss, yTrue: Output, yPred: Output): Output {
  const width = g.shapeOf(yPred).at(-1);
  let name = metric;
  if (metric === 'accuracy') {
    name =
      width === 1 || loss === 'binaryCrossentropy'
        ? 'binaryAccuracy'
        : loss === 'sparseCategoricalCrossentropy'
          ? 'sparseCategoricalAccuracy'
          : 'categoricalAccuracy';
  }
  const last = g.shapeOf(yPred).length - 1;
  const equal = (a: Output, b: Output) => g.cast(g.out('Equal', [a, b]), DType.float32);
  switch (name) {
    case 'binaryAccuracy':
      return g.mean(equal(yTrue, g.cast(g.out('Greater', [yPred, g.constant(0.5)]), DType.float32)), [last]);
    case 'categoricalAccuracy':
      return equal(g.argMax(yTrue, last), g.argMax(yPred, last));
    case 'sparseCategoricalAccuracy': {
      const t = g.shapeOf(yTrue).length === g.shapeOf(yPred).length ? g.squeeze(yTrue, last) : yTrue;
      return equal(t, g.cast(g.argMax(yPred, last), DType.float32));
    }
    case 'meanSquaredError':
    case 'meanAbsoluteError':
      return sampleLoss(g, name, yTrue, yPred);
    default:
      throw new Error(`no graph form of metric ${metric}`);
  }
}
