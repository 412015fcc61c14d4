import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/cli/redis-server.js';
import { loadConfig } from '../src/config/config.js';
import type { DatasetRecord, JobRecord, JobSpecInput } from '../src/spec/index.js';
import type { ArtifactStore } from '../src/storage/artifact-store.js';
import { checkpointKeys, datasetKeys, jobArtifacts, modelKeys } from '../src/storage/artifact-keys.js';
import { artifactStoreSettings, openArtifactStore } from '../src/storage/open-artifact-store.js';
import { clustersCsv, epochsOf, readLive, recoverableSpec, s3Settings, type SseEvent } from './helpers.js';
import { type DescentProcess, startProcess } from './processes.js';

/**
 * Several hosts on one machine: an API and two workers, each with a DATA_DIR of its own (no
 * shared directory), sharing only Redis and an S3 server. Real processes, killed for real.
 */
const EPOCHS = 40;
const spirals = recoverableSpec(EPOCHS, 'multi-host');

describe('API and workers on separate hosts (own DATA_DIR each; shared Redis and S3 only)', () => {
  const s3 = s3Settings();
  const dataDirs = { api: '', a: '', b: '' };
  const env = (dataDir: string, extra: Record<string, string> = {}) => ({
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: `test-${randomUUID().slice(0, 8)}`,
    ...s3,
    DATA_DIR: dataDir,
    CHECKPOINT_MIN_INTERVAL_MS: '0',
    LOCK_DURATION_MS: '2000',
    STALLED_INTERVAL_MS: '1000',
    TFJS_BACKEND: process.env.TFJS_BACKEND ?? 'auto',
    ...extra,
  });
  let api: DescentProcess;
  const workers: DescentProcess[] = [];
  let base: string;
  let artifacts: ArtifactStore;

  beforeAll(async () => {
    for (const k of Object.keys(dataDirs) as (keyof typeof dataDirs)[]) dataDirs[k] = mkdtempSync(join(tmpdir(), `descent-host-${k}-`));
    const shared = env(dataDirs.api);
    const port = await freePort();
    api = startProcess('src/api/server.ts', { ...shared, PORT: String(port) });
    workers.push(
      startProcess('workers/worker.ts', { ...shared, DATA_DIR: dataDirs.a }),
      startProcess('workers/worker.ts', { ...shared, DATA_DIR: dataDirs.b }),
    );
    await Promise.all([api.ready, ...workers.map((w) => w.ready)]);
    base = `http://127.0.0.1:${port}`;
    artifacts = openArtifactStore(artifactStoreSettings(loadConfig({ ...s3, DATA_DIR: dataDirs.api })));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([api, ...workers].filter(Boolean).map((p) => p.kill('SIGTERM')));
  });

  const http = async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  const submitJob = async (spec: JobSpecInput) => {
    const res = await http<{ id: string }>('POST', '/v1/jobs', spec);
    expect(res.status).toBe(202);
    return res.body.id;
  };
  const untilEnd = async (id: string, lastEventId?: string) =>
    (await readLive(base, id, () => false, lastEventId ? { 'last-event-id': lastEventId } : {})).events;
  const workerOf = (e: SseEvent) => workers.find((w) => String(e.data.worker).includes(`-${w.child.pid}-`));

  let trainedId: string;

  it('a worker killed with SIGKILL mid-job: the other worker resumes it from the checkpoint in S3', async () => {
    trainedId = await submitJob(spirals);
    const seen = await readLive(base, trainedId, (e) => e.event === 'epoch' && e.data.epoch === 10);
    const running = seen.events.find((e) => e.event === 'status' && e.data.status === 'running')!;
    const doomed = workerOf(running)!;
    expect(doomed).toBeDefined();
    await doomed.kill('SIGKILL');

    const events = await untilEnd(trainedId);
    expect(events.at(-1)!.event).toBe('completed');
    expect(epochsOf(events)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    const resumed = events.find((e) => e.event === 'status' && e.data.resumed === true)!;
    expect(workerOf(resumed)).toBeDefined();
    expect(workerOf(resumed)).not.toBe(doomed);
    expect(resumed.data.fromEpoch).toBeGreaterThanOrEqual(9);
    // The model is in S3; the worker removes the checkpoints once the job is recorded completed.
    expect((await artifacts.list(jobArtifacts(trainedId))).sort()).toEqual(
      expect.arrayContaining([modelKeys(trainedId).topology, modelKeys(trainedId).weights]),
    );
    await expect.poll(() => artifacts.list(checkpointKeys(trainedId).dir), { timeout: 10_000, interval: 50 }).toEqual([]);
  }, 120_000);

  it('predicts on a worker that did not train the model, and the downloaded model predicts the same', async () => {
    const inputs = [
      [0, 0],
      [0.5, -0.5],
      [-1, 1],
    ];
    const res = await http<{ outputs: number[][] }>('POST', `/v1/jobs/${trainedId}/predict`, { inputs });
    expect(res.status).toBe(200);
    expect(res.body.outputs).toHaveLength(3);

    const model = await tf.loadLayersModel(`${base}/v1/jobs/${trainedId}/model`);
    const local = tf.tidy(() => (model.predict(tf.tensor2d(inputs)) as tf.Tensor).arraySync() as number[][]);
    model.dispose();
    local.forEach((row, i) => expect(row[0]).toBeCloseTo(res.body.outputs[i]![0]!, 5));
  }, 60_000);

  it('trains on a dataset uploaded through the API, read by the worker from S3 and cached on its disk', async () => {
    const up = await http<DatasetRecord>('POST', '/v1/datasets?name=clusters', clustersCsv(150), { 'content-type': 'text/csv' });
    expect(up.status).toBe(201);
    const datasetId = up.body.id;
    expect((await artifacts.list(datasetKeys(datasetId).dir)).sort()).toEqual([
      datasetKeys(datasetId).record,
      datasetKeys(datasetId).x,
      datasetKeys(datasetId).y,
    ]);

    const id = await submitJob({
      dataset: { id: datasetId },
      model: {
        inputShape: [4],
        layers: [
          { type: 'dense', units: 8, activation: 'relu' },
          { type: 'dense', units: 3, activation: 'softmax' },
        ],
      },
      metrics: ['accuracy'],
      optimizer: { name: 'adam', learningRate: 0.05 },
      training: { epochs: 10, batchSize: 16, seed: 11 },
    });
    const events = await untilEnd(id);
    expect(events.at(-1)!.event).toBe('completed');
    const survivor = workers.find((w) => w.child.exitCode === null && w.child.signalCode === null)!;
    const survivorDir = survivor === workers[0] ? dataDirs.a : dataDirs.b;
    // The dataset's three objects and the model predicted with before, each cached once.
    expect(readdirSync(join(survivorDir, 'cache', 'artifacts')).length).toBeGreaterThanOrEqual(3);

    // Deletes go through the store: nothing of either job or the dataset is left in S3.
    expect((await http('DELETE', `/v1/jobs/${id}`)).status).toBe(204);
    expect((await http('DELETE', `/v1/jobs/${trainedId}`)).status).toBe(204);
    expect((await http('DELETE', `/v1/datasets/${datasetId}`)).status).toBe(204);
    expect(await artifacts.list(jobArtifacts(id))).toEqual([]);
    expect(await artifacts.list(jobArtifacts(trainedId))).toEqual([]);
    expect(await artifacts.list(datasetKeys(datasetId).dir)).toEqual([]);
    expect((await http('POST', `/v1/jobs/${trainedId}/predict`, { inputs: [[0, 0]] })).status).toBe(404);
    const record = await http<JobRecord>('GET', `/v1/jobs/${id}`);
    expect(record.status).toBe(404);
  }, 120_000);

  it('trains on inline data the API stored in S3, read by the worker through its disk cache; DELETE removes it from S3', async () => {
    const x = Array.from({ length: 64 }, (_, i) => [Math.sin(i) / 3, Math.cos(i * 1.7) / 7]);
    const spec: JobSpecInput = {
      dataset: { inline: { x, y: x.map(([a, b]) => [a! - b! + 0.1]) } },
      model: { inputShape: [2], layers: [{ type: 'dense', units: 1 }] },
      optimizer: { name: 'sgd', learningRate: 0.1 },
      training: { epochs: 3, batchSize: 8, seed: 2 },
    };
    const id = await submitJob(spec);
    const [stored] = await artifacts.list(`${jobArtifacts(id)}/inline`);
    expect(JSON.parse((await artifacts.get(stored!))!.toString())).toEqual(spec.dataset.inline);
    const events = await untilEnd(id);
    expect(events.at(-1)!.event).toBe('completed');
    const trainedBy = workerOf(events.find((e) => e.event === 'status' && e.data.status === 'running')!)!;
    const cache = join(trainedBy === workers[0] ? dataDirs.a : dataDirs.b, 'cache', 'artifacts');
    const cached = readdirSync(cache).map((f) => readFileSync(join(cache, f), 'utf8'));
    expect(cached).toContain(JSON.stringify(spec.dataset.inline));
    expect((await http<JobRecord>('GET', `/v1/jobs/${id}`)).body.spec.dataset.inline).toEqual(spec.dataset.inline);
    expect((await http('DELETE', `/v1/jobs/${id}`)).status).toBe(204);
    expect(await artifacts.list(jobArtifacts(id))).toEqual([]);
  }, 120_000);

  it('no host wrote an artifact to its own disk', () => {
    for (const dir of Object.values(dataDirs)) expect(existsSync(join(dir, 'artifacts'))).toBe(false);
  });
});
