import type { ArtifactStore } from './artifact-store.js';
import { checkpointKeys, modelKeys } from './artifact-keys.js';

/**
 * Bytes a job's training holds in the store now: its model (model.json and weights) and every
 * checkpoint still there, also ones an earlier, killed attempt left behind. Measured rather than
 * added up from what a training process reported, so a process killed between a write (or a
 * delete) and its report leaves nothing miscounted once the job is measured again.
 */
export async function trainingBytes(store: ArtifactStore, jobId: string): Promise<number> {
  return sizeOf(store, [...modelFiles(jobId), ...(await store.list(checkpointKeys(jobId).dir))]);
}

/** Bytes of a job's trained model alone: what its training holds once its checkpoints are deleted. */
export async function modelBytes(store: ArtifactStore, jobId: string): Promise<number> {
  return sizeOf(store, modelFiles(jobId));
}

const modelFiles = (jobId: string) => Object.values(modelKeys(jobId));

async function sizeOf(store: ArtifactStore, keys: string[]): Promise<number> {
  // A key deleted between the list and its stat counts 0: it is gone.
  const sizes = await Promise.all(keys.map((key) => store.stat(key)));
  return sizes.reduce((sum, info) => sum + (info?.size ?? 0), 0);
}
