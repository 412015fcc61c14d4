import * as tf from '@tensorflow/tfjs';
import type { Metric } from '../spec/index.js';

type MetricFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/**
 * The spec's metric names as `model.compile` takes them. tfjs-layers resolves only some names by
 * string (`accuracy`, which it matches to the loss and output, and the two accuracies); the rest
 * it knows only as functions (its string table spells them `mse`, `mae`, and lacks the sparse one).
 */
const COMPILED: Record<Metric, string | MetricFn> = {
  accuracy: 'accuracy',
  binaryAccuracy: 'binaryAccuracy',
  categoricalAccuracy: 'categoricalAccuracy',
  sparseCategoricalAccuracy: tf.metrics.sparseCategoricalAccuracy,
  meanSquaredError: tf.metrics.meanSquaredError,
  meanAbsoluteError: tf.metrics.meanAbsoluteError,
};

export const compiledMetrics = (metrics: readonly Metric[]): (string | MetricFn)[] => metrics.map((m) => COMPILED[m]);
