import * as tf from '@tensorflow/tfjs';

export type BackendName = 'tensorflow' | 'cpu';

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
