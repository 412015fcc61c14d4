/**
 * Part `storage`: checkpoint save and model load times of the MNIST CNN, for the local artifact
 * directory and for an S3 server on loopback (versitygw), the latter also through a worker's
 * warm disk cache. Medians of BENCH_STORAGE_RUNS runs; ratios against the local directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3Server } from '../src/cli/s3-server.js';
import { loadConfig } from '../src/config/config.js';
import { jobSpecSchema } from '../src/spec/index.js';
import { prepareSpec } from '../src/planning/index.js';
import type { ArtifactStore } from '../src/storage/artifact-store.js';
import { artifactStoreSettings, openArtifactStore } from '../src/storage/open-artifact-store.js';
import { modelKeys } from '../src/storage/artifact-keys.js';
import { initBackend } from '../src/training/backend.js';
import { type TrainingState, readCheckpoint, writeCheckpoint } from '../src/training/checkpoint.js';
import { loadModel, saveModel } from '../src/training/model-io.js';
import { train } from '../src/training/train.js';
import { MODELS } from './models.js';
import { stat, table } from './stats.js';

const RUNS = Number(process.env.BENCH_STORAGE_RUNS ?? 20);

export interface StorageRow {
  store: string;
  checkpointSaveMs: number;
  checkpointReadMs: number;
  modelSaveMs: number;
  modelLoadMs: number;
}

export interface StorageResult {
  model: string;
  checkpointBytes: number;
  modelBytes: number;
  runs: number;
  rows: StorageRow[];
}

/**
 * Median ms of `op` per store over RUNS rounds, the stores taking turns within each round, so
 * load from other work on the machine falls on all of them alike.
 */
async function timeEach(stores: [string, ArtifactStore][], op: (store: ArtifactStore, job: string, i: number) => Promise<unknown>): Promise<number[]> {
  const ms: number[][] = stores.map(() => []);
  for (let i = -1; i < RUNS; i++) {
    for (const [k, [name, store]] of stores.entries()) {
      const t0 = performance.now();
      await op(store, jobOf(name), i);
      // Round -1 warms up connections and code paths.
      if (i >= 0) ms[k]!.push(performance.now() - t0);
    }
  }
  return ms.map((m) => stat(m).median);
}

const jobOf = (store: string) => `bench-${store.replace(/\W+/g, '-')}`;

export async function runStorageBench(): Promise<StorageResult> {
  await initBackend(loadConfig({ TFJS_BACKEND: process.env.TFJS_BACKEND }).TFJS_BACKEND);
  const m = MODELS.cnn;
  const { prepared } = prepareSpec(
    jobSpecSchema.parse({
      dataset: { builtin: 'mnist', samples: 256 },
      model: { inputShape: m.inputShape, layers: m.layers },
      optimizer: { name: 'adam', learningRate: 1e-3 },
      training: { epochs: 1, batchSize: 64, seed: 7 },
    }),
  );
  if (!prepared) throw new Error('invalid benchmark spec');
  let state: TrainingState | undefined;
  const { model } = await train(
    { ...prepared, training: { ...prepared.training, seed: 7, maxRuntimeSeconds: 600 } },
    { checkpoint: { every: 1, save: async (s) => void (state = s) } },
  );
  if (!state) throw new Error('no checkpoint was taken');

  const dir = mkdtempSync(join(tmpdir(), 'descent-bench-storage-'));
  const s3 = await startS3Server({ dir: join(dir, 's3') });
  try {
    const s3Env = {
      ARTIFACT_STORE: `s3://${s3.bucket}/bench`,
      S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    };
    const stores: [string, ArtifactStore][] = [
      ['local directory', openArtifactStore(artifactStoreSettings(loadConfig({ DATA_DIR: join(dir, 'local') })))],
      ['S3 (versitygw, loopback)', openArtifactStore(artifactStoreSettings(loadConfig({ ...s3Env, DATA_DIR: join(dir, 'w1') })))],
      ['S3 + warm worker cache', openArtifactStore(artifactStoreSettings(loadConfig({ ...s3Env, DATA_DIR: join(dir, 'w2') })), { cache: true })],
    ];
    const checkpointSave = await timeEach(stores, (store, job, i) => writeCheckpoint(store, job, { ...state!, epoch: i + 2 }));
    const checkpointRead = await timeEach(stores, (store, job, i) => readCheckpoint(store, job, i + 2));
    const modelSave = await timeEach(stores, (store, job) => saveModel(model, store, job));
    const modelLoad = await timeEach(stores, async (store, job) => (await loadModel(store, job))!.dispose());
    const rows: StorageRow[] = stores.map(([name], k) => ({
      store: name,
      checkpointSaveMs: checkpointSave[k]!,
      checkpointReadMs: checkpointRead[k]!,
      modelSaveMs: modelSave[k]!,
      modelLoadMs: modelLoad[k]!,
    }));
    const local = stores[0]![1];
    const modelBytes = (await local.stat(modelKeys(jobOf(stores[0]![0])).weights))!.size + (await local.stat(modelKeys(jobOf(stores[0]![0])).topology))!.size;
    return { model: m.label, checkpointBytes: state.data.byteLength, modelBytes, runs: RUNS, rows };
  } finally {
    model.dispose();
    await s3.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function storageTable(r: StorageResult): string {
  const local = r.rows[0]!;
  const ratio = (v: number, base: number) => `${(v / base).toFixed(1)}×`;
  return [
    `${r.model}: checkpoint ${Math.round(r.checkpointBytes / 1024)} KiB (weights + Adam slots), model ${Math.round(r.modelBytes / 1024)} KiB; median of ${r.runs} rounds (the stores taking turns), ms (× local)`,
    '',
    table(
      ['store', 'checkpoint save', 'checkpoint read', 'model save', 'model load'],
      r.rows.map((row) => [
        row.store,
        `${row.checkpointSaveMs.toFixed(2)} (${ratio(row.checkpointSaveMs, local.checkpointSaveMs)})`,
        `${row.checkpointReadMs.toFixed(2)} (${ratio(row.checkpointReadMs, local.checkpointReadMs)})`,
        `${row.modelSaveMs.toFixed(2)} (${ratio(row.modelSaveMs, local.modelSaveMs)})`,
        `${row.modelLoadMs.toFixed(2)} (${ratio(row.modelLoadMs, local.modelLoadMs)})`,
      ]),
    ),
  ].join('\n');
}
