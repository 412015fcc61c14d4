/**
 * Every artifact key Descent writes: the one place that spells the layout of the artifact store
 * (as `src/store/keys.ts` is for Redis). Keys are ids and names, never file paths.
 *
 * jobs/<jobId>/model/model.json, weights.bin      the trained model (tfjs layers format)
 * jobs/<jobId>/checkpoints/<epoch>.bin, .json     checkpoint data, then its manifest
 * jobs/<jobId>/inline/<sha256>.json                 the job's inline data: the JSON text of {x, y}
 * experiments/<experimentId>/inline/<sha256>.json   an experiment's inline data, shared by its trials
 * datasets/<datasetId>/x.f32, y.f32, dataset.json an uploaded dataset, its record written last
 *
 * Each owner's files are stored before its Redis record is written; a folder whose owner never got
 * a record is deleted by the retention sweep once past a grace period (sweepOrphanedArtifacts).
 */

/** The kinds of record that own artifacts, each with the folder that holds one folder per owner id. */
export const ARTIFACT_OWNERS = { job: 'jobs', experiment: 'experiments', dataset: 'datasets' } as const;
export type ArtifactOwnerKind = keyof typeof ARTIFACT_OWNERS;

/** Everything a job owns; deleting it removes the model and every checkpoint. */
export const jobArtifacts = (jobId: string) => `${ARTIFACT_OWNERS.job}/${jobId}`;

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
export const experimentArtifacts = (experimentId: string) => `${ARTIFACT_OWNERS.experiment}/${experimentId}`;

/**
 * One inline dataset of an owner (`jobArtifacts(id)` or `experimentArtifacts(id)`), named by the
 * SHA-256 of its text: the same data twice in one spec (or in an experiment's trials) is stored once.
 */
export const inlineDataKey = (owner: string, sha256: string) => `${owner}/inline/${sha256}.json`;

export const datasetKeys = (datasetId: string) => {
  const dir = `${ARTIFACT_OWNERS.dataset}/${datasetId}`;
  return { dir, x: `${dir}/x.f32`, y: `${dir}/y.f32`, record: `${dir}/dataset.json` };
};

/** Everything one owner holds (`jobArtifacts(id)`, `experimentArtifacts(id)`, `datasetKeys(id).dir`). */
export const ownerArtifacts = (kind: ArtifactOwnerKind, id: string) => `${ARTIFACT_OWNERS[kind]}/${id}`;

/** Artifacts written once and read many times (a model, an uploaded or inline dataset): what worker caches keep. */
export const readMostly = (key: string) => key.startsWith('datasets/') || /^(jobs\/[^/]+\/model|(jobs|experiments)\/[^/]+\/inline)\//.test(key);
