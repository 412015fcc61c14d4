import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../spec/backends.js';

export type { BackendName };

export interface BackendInfo {
  backend: BackendName;
  versions: Record<string, string>;
  /** Why `auto` fell back to the pure-JS engine, when it did. */
  fallbackReason?: string;
}

/**
 * Selects the tfjs backend once per process: `tensorflow` (native, via @tensorflow/tfjs-node,
 * an optional dependency), `cpu` (pure JS), or `auto` (native when it loads).
 */
export async function initBackend(requested: 'auto' | BackendName): Promise<BackendInfo> {
  let fallbackReason: string | undefined;
  if (requested !== 'cpu') {
    try {
      const node = (await import('@tensorflow/tfjs-node')) as { version?: Record<string, string> };
      if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not initialise');
      registerLeanStep();
      return { backend: 'tensorflow', versions: { ...tf.version, ...(node.version ?? {}) } };
    } catch (err) {
      if (requested === 'tensorflow') {
        throw new Error(`TFJS_BACKEND=tensorflow but @tensorflow/tfjs-node does not load: ${(err as Error).message}`);
      }
      fallbackReason = (err as Error).message.split('\n')[0];
    }
  }
  // Silences tfjs' one-time console hint that a native backend exists: Descent reports it itself.
  tf.env().set('IS_TEST', true);
  await tf.setBackend('cpu');
  return { backend: 'cpu', versions: { ...tf.version }, ...(fallbackReason ? { fallbackReason } : {}) };
}

export { tf };

/**
 * tfjs-node's Step kernel (relu's gradient) runs seven whole-tensor ops; the same values in
 * four (NaN stays NaN, alpha for x <= 0). About a quarter off a small CNN's training step.
 */
function registerLeanStep(): void {
  tf.unregisterKernel('Step', 'tensorflow');
  tf.registerKernel({
    kernelName: 'Step',
    backendName: 'tensorflow',
    kernelFunc: ({ inputs, attrs }) => {
      const x = inputs.x as tf.Tensor;
      const alpha = (attrs as unknown as { alpha: number }).alpha;
      return tf.tidy(() => {
        const positive = tf.cast(tf.greater(x, 0), x.dtype);
        const stepped = alpha === 0 ? positive : tf.add(positive, tf.mul(tf.cast(tf.lessEqual(x, 0), x.dtype), alpha));
        return tf.where(tf.isNaN(x), x, stepped);
      });
    },
  });
}
