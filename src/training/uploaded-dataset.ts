import { readStoredDataset } from '../storage/stored-dataset.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { type Dataset, DatasetError } from './datasets.js';

/** The job names an uploaded dataset that no longer exists (deleted after the job was queued). */
export class DatasetNotFoundError extends DatasetError {}

/** An uploaded dataset from the artifact store, as the engine trains on it. */
export async function loadUploadedDataset(store: ArtifactStore, id: string): Promise<Dataset> {
  const stored = await readStoredDataset(store, id);
  if (!stored) throw new DatasetNotFoundError(`the uploaded dataset ${id} does not exist (deleted after the job was queued?)`);
  const { record, x, y } = stored;
  return { x, y, samples: record.rows, inputShape: record.inputShape, targetShape: record.targetShape, labels: record.labels };
}
