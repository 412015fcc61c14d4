import type { ArtifactStore } from '../storage/artifact-store.js';
import { StorageUnavailableError, TrainingError } from './errors.js';

/**
 * The store as training uses it: whatever one of its operations throws (an unreachable S3, a
 * full or unwritable disk) becomes a StorageUnavailableError, which the worker retries, instead
 * of a training error it would not. A missing object is no fault (the store answers undefined).
 */
export function withStorageFaults(store: ArtifactStore): ArtifactStore {
  return {
    put: (key, data) => guarded(key, () => store.put(key, data)),
    putStream: (key, data) => guarded(key, () => store.putStream(key, data)),
    get: (key) => guarded(key, () => store.get(key)),
    getStream: async (key) => {
      const stream = await guarded(key, () => store.getStream(key));
      return stream && guardedStream(key, stream);
    },
    stat: (key) => guarded(key, () => store.stat(key)),
    list: (prefix) => guarded(prefix, () => store.list(prefix)),
    delete: (key) => guarded(key, () => store.delete(key)),
  };
}

async function guarded<T>(key: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw storageFault(key, err);
  }
}

async function* guardedStream(key: string, stream: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  try {
    yield* stream;
  } catch (err) {
    throw storageFault(key, err);
  }
}

function storageFault(key: string, err: unknown): TrainingError {
  if (err instanceof TrainingError) return err;
  return new StorageUnavailableError(`the artifact store failed on ${key}: ${err instanceof Error ? err.message : String(err)}`);
}
