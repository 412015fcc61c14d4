import type { Output } from './native.js';
import type { GraphBuilder } from './ops.js';

/**
 * Softmax over the last axis as TensorFlow's kernel computes it (exp(x - max) / sum), in four
 * element-wise ops: the oneDNN build rewrites a `Softmax` op to `_MklSoftmax`, which costs about
 * 100 µs per call at small sizes (a tenth of an MNIST MLP step at batch 32) against a few µs here.
 */
function softmax(g: GraphBuilder, x: Output): Output {
  const axis = g.shapeOf(x).length - 1;
  const e = g.unary('Exp', g.sub(x, g.max(x, [axis], true)));
  return g.div(e, g.sum(e, [axis], true));
}

/** The activations by their tfjs names (leakyRelu is a layer there, see `LeakyReLU`). */
export function activation(g: GraphBuilder, name: string, x: Output): Output {
  switch (name) {
    case 'linear':
      return x;
    case 'relu':
      return g.unary('Relu', x);
    case 'relu6':
      return g.unary('Relu6', x);
    case 'elu':
      return g.unary('Elu', x);
    case 'selu':
      return g.unary('Selu', x);
    case 'sigmoid':
      return g.unary('Sigmoid', x);
    case 'tanh':
      return g.unary('Tanh', x);
    case 'softmax':
      return softmax(g, x);
    case 'softplus':
      return g.unary('Softplus', x);
    case 'softsign':
      return g.unary('Softsign', x);
    case 'hardSigmoid':
      return g.clip(g.shift(g.scale(x, 0.2), 0.5), 0, 1);
    case 'swish':
      return g.mul(x, g.unary('Sigmoid', x));
    case 'mish':
      return g.mul(x, g.unary('Tanh', g.unary('Softplus', x)));
    case 'gelu':
      return g.mul(x, g.scale(g.shift(g.unary('Erf', g.scale(x, 1 / Math.SQRT2)), 1), 0.5));
    default:
      throw new Error(`no graph form of activation ${name}`);
  }
}
