import type { ResolvedJobSpec, StoredJobSpec } from '../spec/index.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { InlineDataMissingError, restoreInlineData } from '../storage/inline-data.js';
import { DatasetNotFoundError } from './errors.js';

/** A job's spec with its inline data read back from the artifact store: the spec the engine trains on, as it was posted. */
export async function withInlineData(store: ArtifactStore, spec: StoredJobSpec): Promise<ResolvedJobSpec> {
  try {
    return await restoreInlineData(store, spec);
  } catch (err) {
    if (err instanceof InlineDataMissingError) throw new DatasetNotFoundError(`the job's inline data is gone from the artifact store (${err.ref.artifact})`);
    throw err;
  }
}
