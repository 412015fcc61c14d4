import { readStoredDataset } from '../storage/stored-dataset.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import type { Dataset } from './datasets.js';
import { DatasetNotFoundError } from './errors.js';

/** An uploaded dataset from the artifact store, as the engine trains on it. */
export async function loadUploadedDataset(store: ArtifactStore, id: string): Promise<Dataset> {
  const stored = await readStoredDataset(store, id);
  if (!stored) throw new DatasetNotFoundError(`the uploaded dataset ${id} does not exist (deleted after the job was queued?)`);
  const { record, x, y } = stored;
  return { x, y, samples: record.rows, inputShape: record.inputShape, targetShape: record.targetShape, labels: record.labels };
}
