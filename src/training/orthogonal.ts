import * as tf from '@tensorflow/tfjs';
import { elementCount } from '../spec/index.js';
import { createRng, gaussian } from './rng.js';

type TfInitializer = ReturnType<typeof tf.initializers.zeros>;
const Initializer = Object.getPrototypeOf(tf.initializers.zeros().constructor) as new () => TfInitializer;

/**
 * Keras' Orthogonal initializer: the Q factor of a Gaussian matrix of shape
 * (max(rows, cols), min(rows, cols)) with rows = all but the last axis, transposed when the
 * kernel is wide, times `gain`. Computed in JavaScript on float64 (modified Gram-Schmidt),
 * because tfjs' own runs its QR decomposition op by op: seconds for an LSTM of 256
 * units and minutes beyond.
 */
export function orthogonalValues(shape: number[], gain: number, seed: number): Float32Array {
  const cols = shape[shape.length - 1]!;
  const rows = elementCount(shape.slice(0, -1));
  const [m, n] = [Math.max(rows, cols), Math.min(rows, cols)];
  const rng = createRng(seed);
  const q = Array.from({ length: n }, () => Float64Array.from({ length: m }, () => gaussian(rng)));
  for (let j = 0; j < n; j++) {
    const v = q[j]!;
    // Modified Gram-Schmidt loses orthogonality in proportion to the condition number, which
    // for a Gaussian matrix is small: one pass in float64 is orthogonal far beyond float32.
    for (let k = 0; k < j; k++) {
      const u = q[k]!;
      let dot = 0;
      for (let i = 0; i < m; i++) dot += u[i]! * v[i]!;
      for (let i = 0; i < m; i++) v[i]! -= dot * u[i]!;
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += v[i]! * v[i]!;
    norm = Math.sqrt(norm);
    for (let i = 0; i < m; i++) v[i]! /= norm;
  }
  // Q has orthonormal columns q[0..n); a tall kernel is Q, a wide one its transpose.
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = gain * (rows >= cols ? q[c]![r]! : q[r]![c]!);
  }
  return out;
}

/** The initializer tfjs layers take; it saves as Keras' `Orthogonal`, so model.json loads anywhere. */
export class SeededOrthogonal extends Initializer {
  static readonly className = 'Orthogonal';

  constructor(
    private readonly gain: number,
    private readonly seed: number,
  ) {
    super();
  }

  override apply(shape: number[]): tf.Tensor {
    return tf.tensor(orthogonalValues(shape, this.gain, this.seed), shape);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { gain: this.gain, seed: this.seed };
  }
}
