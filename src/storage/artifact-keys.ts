/**
 * Every artifact key Descent writes: the one place that spells the layout of the artifact store
 * (as `src/store/keys.ts` is for Redis). Keys are ids and names, never file paths.
 *
 * jobs/<jobId>/model/model.json, weights.bin      the trained model (tfjs layers format)
 * jobs/<jobId>/checkpoints/<epoch>.bin, .json     checkpoint data, then its manifest
 * jobs/<jobId>/inline/<sha256>.json                 the job's inline data: the JSON text of {x, y}
 * experiments/<experimentId>/inline/<sha256>.json   an experiment's inline data, shared by its trials
 * datasets/<datasetId>/x.f32, y.f32, dataset.json an uploaded dataset, its record written last
 */

/** Everything a job owns; deleting it removes the model and every checkpoint. */
export const jobArtifacts = (jobId: string) => `jobs/${jobId}`;

export const modelKeys = (jobId: string) => ({
  topology: `${jobArtifacts(jobId)}/model/model.json`,
  weights: `${jobArtifacts(jobId)}/model/weights.bin`,
});

export const checkpointKeys = (jobId: string) => ({
  dir: `${jobArtifacts(jobId)}/checkpoints`,
  manifest: (epoch: number) => `${jobArtifacts(jobId)}/checkpoints/${epoch}.json`,
  data: (epoch: number) => `${jobArtifacts(jobId)}/checkpoints/${epoch}.bin`,
});

/** Everything an experiment owns (its trials' jobs own theirs); deleting it removes its inline data. */
export const experimentArtifacts = (experimentId: string) => `experiments/${experimentId}`;

/**
 * One inline dataset of an owner (`jobArtifacts(id)` or `experimentArtifacts(id)`), named by the
 * SHA-256 of its text: the same data twice in one spec (or in an experiment's trials) is stored once.
 */
export const inlineDataKey = (owner: string, sha256: string) => `${owner}/inline/${sha256}.json`;

export const datasetKeys = (datasetId: string) => ({
  dir: `datasets/${datasetId}`,
  x: `datasets/${datasetId}/x.f32`,
  y: `datasets/${datasetId}/y.f32`,
  record: `datasets/${datasetId}/dataset.json`,
});

/** Artifacts written once and read many times (a model, an uploaded or inline dataset): what worker caches keep. */
export const readMostly = (key: string) => key.startsWith('datasets/') || /^(jobs\/[^/]+\/model|(jobs|experiments)\/[^/]+\/inline)\//.test(key);
