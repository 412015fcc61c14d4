import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetRecord, JobRecord } from '../src/spec/index.js';
import { uploadOptionsSchema } from '../src/spec/index.js';
import { datasetKeys, experimentArtifacts, jobArtifacts } from '../src/storage/artifact-keys.js';
import { InlineDataWriter } from '../src/storage/inline-data.js';
import { DatasetStore } from '../src/store/dataset-store.js';
import { ExperimentStore } from '../src/store/experiment-store.js';
import { JobStore } from '../src/store/job-store.js';
import { redisKeys } from '../src/store/keys.js';
import { ingestUpload } from '../src/uploads/ingest.js';
import { ownerRecords, sweepOrphanedArtifacts } from '../workers/retention.js';
import { type Stack, inlineXorSpec, labelledCsv, resolveSpec, s3Settings, startStack, testConfig } from './helpers.js';

const csv = labelledCsv(12);

const stores: [string, () => Record<string, string>][] = [
  ['local directory', () => ({})],
  ['S3 (versitygw)', s3Settings],
];

describe.each(stores)('the retention sweep deletes orphaned artifacts (%s, real Redis)', (_name, settings) => {
  let stack: Stack;
  const graceMs = 60 * 60_000;
  const sweep = (now: number) => {
    const keys = redisKeys(stack.config.REDIS_PREFIX);
    const redis = stack.app.redis;
    const records = ownerRecords({
      jobs: new JobStore(redis, keys, 1_000),
      experiments: new ExperimentStore(redis, keys),
      datasets: new DatasetStore(redis, keys),
    });
    return sweepOrphanedArtifacts(stack.app.artifacts, records, graceMs, now);
  };

  beforeAll(async () => {
    stack = await startStack({ worker: false, config: testConfig(settings()) });
  });
  afterAll(() => stack.close());

  it('deletes what a job, an experiment and an upload stored without ever being recorded, once past the grace period; never what a record owns', async () => {
    const spec = inlineXorSpec(32);
    // Live owners, through the API.
    const job = (await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec })).json<JobRecord>();
    const experiment = await stack.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      payload: { base: spec, space: { 'optimizer.learningRate': { values: [0.1] } }, objective: { metric: 'loss' } },
    });
    expect(experiment.statusCode).toBe(202);
    const upload = await stack.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: csv });
    expect(upload.statusCode).toBe(201);
    const live = [jobArtifacts(job.id), experimentArtifacts(experiment.json<{ id: string }>().id), datasetKeys(upload.json<DatasetRecord>().id).dir];

    // Orphans: stored by the same writers as a submission, its process gone before the record was written.
    const [orphanJob, orphanExperiment, orphanDataset] = [randomUUID(), randomUUID(), `ds_${randomUUID()}`];
    for (const owner of [jobArtifacts(orphanJob), experimentArtifacts(orphanExperiment)]) {
      const inline = new InlineDataWriter(owner);
      await inline.store(resolveSpec(spec));
      await inline.write(stack.app.artifacts);
    }
    const stream = Readable.from([Buffer.from(csv)]);
    await ingestUpload(
      stack.app.artifacts,
      join(stack.config.DATA_DIR, 'tmp'),
      orphanDataset,
      { stream, contentType: 'text/csv', contentEncoding: undefined, contentLength: csv.length },
      uploadOptionsSchema.parse({}),
      {
        maxBytes: 1 << 20,
        maxDecompressedBytes: 1 << 20,
        maxRows: 1_000,
        maxColumns: 10,
        maxClasses: 10,
      },
    );
    const orphans = [jobArtifacts(orphanJob), experimentArtifacts(orphanExperiment), datasetKeys(orphanDataset).dir];
    const held = async (prefix: string) => (await stack.app.artifacts.list(prefix)).sort();
    const before = Object.fromEntries(await Promise.all([...live, ...orphans].map(async (p) => [p, await held(p)] as const)));
    for (const prefix of [...live, ...orphans]) expect(before[prefix]!.length).toBeGreaterThan(0);

    // Within the grace period nothing goes: a record may be on its way.
    expect(await sweep(Date.now())).toEqual([]);
    for (const prefix of orphans) expect(await held(prefix)).toEqual(before[prefix]);

    // Past it, the orphans go and every owner with a record keeps all it holds.
    expect((await sweep(Date.now() + graceMs + 60_000)).sort()).toEqual([...orphans].sort());
    for (const prefix of orphans) expect(await held(prefix)).toEqual([]);
    for (const prefix of live) expect(await held(prefix)).toEqual(before[prefix]);
    const read = await stack.app.inject({ url: `/v1/jobs/${job.id}` });
    expect(read.statusCode).toBe(200);
    expect(read.json<JobRecord>().spec.dataset.inline).toEqual(spec.dataset.inline);
    expect(await sweep(Date.now() + graceMs + 60_000)).toEqual([]);
  });
});
