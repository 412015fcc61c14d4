import * as tf from '@tensorflow/tfjs';

type LayerNormalizationArgs = NonNullable<Parameters<typeof tf.layers.layerNormalization>[0]>;
type LayerNormalizationLayer = ReturnType<typeof tf.layers.layerNormalization>;
const TfLayerNormalization = tf.layers.layerNormalization({}).constructor as new (args: LayerNormalizationArgs) => LayerNormalizationLayer;

/**
 * tfjs' LayerNormalization (same class name and config, so saved models load anywhere) that also
 * trains without `center` or `scale`: tfjs passes a null offset or scale to batchNormalization,
 * whose gradient then fails (tfjs#2868). Here the missing beta is 0 and the missing gamma 1,
 * normalizing over the last axis, as Keras does.
 */
class LayerNormalization extends TfLayerNormalization {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const own = this as unknown as { center: boolean; scale: boolean; epsilon: number; gamma?: tf.LayerVariable; beta?: tf.LayerVariable };
    if (own.center && own.scale) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const { mean, variance } = tf.moments(x, -1, true);
      let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, own.epsilon)));
      if (own.scale) y = tf.mul(y, own.gamma!.read());
      if (own.center) y = tf.add(y, own.beta!.read());
      return y;
    });
  }
}

export const layerNormalization = (args: LayerNormalizationArgs): tf.layers.Layer => new LayerNormalization(args);
