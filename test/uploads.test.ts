import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStoredDataset } from '../src/storage/stored-dataset.js';
import type { DatasetRecord, JobRecord } from '../src/spec/index.js';
import { LocalArtifactStore } from '../src/storage/artifact-store.js';
import { type Stack, startStack, testConfig } from './helpers.js';

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };

const IRIS_HEAD = [
  'sepal_length,sepal_width,petal_length,petal_width,species',
  '5.1,3.5,1.4,0.2,setosa',
  '7.0,3.2,4.7,1.4,versicolor',
  '6.3,3.3,6.0,2.5,virginica',
  '4.9,3.0,1.4,0.2,setosa',
  '6.4,3.2,4.5,1.5,versicolor',
  '5.8,2.7,5.1,1.9,virginica',
].join('\n');

/** Every file under a directory (empty directories do not count). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

async function upload(stack: Stack, body: string | Buffer | Readable, query = '', headers: Record<string, string> = { 'content-type': 'text/csv' }) {
  return stack.app.inject({ method: 'POST', url: `/v1/datasets${query}`, headers, payload: body });
}

describe('dataset uploads', () => {
  let stack: Stack;
  let store: LocalArtifactStore;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
    store = new LocalArtifactStore(stack.config.DATA_DIR);
  });
  afterAll(async () => stack.close());

  it('infers a CSV header, features and a one-hot label, stores float32 arrays, and lists it', async () => {
    const res = await upload(stack, `${IRIS_HEAD}\n`, '?name=iris');
    expect(res.statusCode).toBe(201);
    const record = res.json<DatasetRecord>();
    expect(record).toMatchObject({
      name: 'iris',
      format: 'csv',
      rows: 6,
      columns: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species'],
      features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
      label: 'species',
      inputShape: [4],
      targetShape: [3],
      labels: 'onehot',
      classes: 3,
      classNames: ['setosa', 'versicolor', 'virginica'],
    });
    expect(record.id).toMatch(/^ds_/);
    expect(record.bytes.stored).toBe(6 * 4 * 4 + 6 * 3 * 4);

    const stored = (await readStoredDataset(store, record.id))!;
    expect(Array.from(stored.x.subarray(0, 8))).toEqual([5.1, 3.5, 1.4, 0.2, 7.0, 3.2, 4.7, 1.4].map(Math.fround));
    expect(Array.from(stored.y.subarray(0, 9))).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);

    expect((await stack.app.inject(`/v1/datasets/${record.id}`)).json()).toEqual(record);
    const list = (await stack.app.inject('/v1/datasets?limit=100')).json<{ items: DatasetRecord[] }>();
    expect(list.items.map((d) => d.id)).toContain(record.id);
  });

  it('encodes class labels as indices, binary 0/1, or keeps numbers as regression targets', async () => {
    const index = (await upload(stack, IRIS_HEAD, '?labels=index')).json<DatasetRecord>();
    expect(index).toMatchObject({ targetShape: [1], labels: 'index', classes: 3 });
    expect(Array.from((await readStoredDataset(store, index.id))!.y)).toEqual([0, 1, 2, 0, 1, 2]);

    const binary = (await upload(stack, 'x,y\n1,yes\n2,no\n3,yes\n')).json<DatasetRecord>();
    expect(binary).toMatchObject({ labels: 'binary', targetShape: [1], classNames: ['no', 'yes'] });
    expect(Array.from((await readStoredDataset(store, binary.id))!.y)).toEqual([1, 0, 1]);

    const regression = (await upload(stack, 'x1,x2,price\n1,2,10.5\n3,4,-2\n')).json<DatasetRecord>();
    expect(regression).toMatchObject({ labels: 'regression', targetShape: [1] });
    expect(regression.classes).toBeUndefined();
    expect(Array.from((await readStoredDataset(store, regression.id))!.y)).toEqual([10.5, -2]);

    // Numeric class labels sort by value and "1" equals "1.0".
    const digits = (await upload(stack, 'a,digit\n0.5,10\n0.1,2\n0.7,1.0\n0.2,1\n', '?labels=index')).json<DatasetRecord>();
    expect(digits).toMatchObject({ classNames: ['1', '2', '10'], classes: 3 });
    expect(Array.from((await readStoredDataset(store, digits.id))!.y)).toEqual([2, 1, 0, 0]);
  });

  it('takes the label and the features named in the query, and an inputShape', async () => {
    const res = await upload(stack, IRIS_HEAD, '?label=species&features=petal_width,petal_length&labels=index');
    expect(res.json<DatasetRecord>()).toMatchObject({ features: ['petal_width', 'petal_length'], inputShape: [2] });
    const x = (await readStoredDataset(store, res.json<DatasetRecord>().id))!.x;
    expect(Array.from(x.subarray(0, 2))).toEqual([0.2, 1.4].map(Math.fround));

    const shaped = await upload(stack, 'a,b,c,d,label\n1,2,3,4,0\n5,6,7,8,1\n', '?inputShape=2,2');
    expect(shaped.json<DatasetRecord>()).toMatchObject({ inputShape: [2, 2], labels: 'regression' });

    // A headerless file: columns are numbered, the label is the last one unless named.
    const headerless = await upload(stack, '1,2,0\n3,4,1\n', '?label=0');
    expect(headerless.json<DatasetRecord>()).toMatchObject({ columns: ['0', '1', '2'], label: '0', features: ['1', '2'] });
  });

  it('reads quoted fields, CRLF line ends, a BOM, semicolons and blank lines', async () => {
    const csv = '\ufeff"width";"label"\r\n"1,5";"a ""quoted"" one"\r\n\r\n2;"multi\nline"\r\n';
    const res = await upload(stack, csv.replace('"1,5"', '"1.5"'), '?delimiter=;');
    expect(res.statusCode).toBe(201);
    expect(res.json<DatasetRecord>()).toMatchObject({ rows: 2, columns: ['width', 'label'], classNames: ['a "quoted" one', 'multi\nline'] });
  });

  it('reads a JSON array of row objects or of row arrays, and NDJSON', async () => {
    const rows = [
      { x1: 0, x2: 1, kind: 'b' },
      { kind: 'a', x2: 0, x1: '2.5' },
    ];
    const objects = await upload(stack, JSON.stringify(rows), '', { 'content-type': 'application/json' });
    expect(objects.statusCode).toBe(201);
    expect(objects.json<DatasetRecord>()).toMatchObject({ format: 'json', columns: ['x1', 'x2', 'kind'], labels: 'binary', rows: 2 });
    const stored = (await readStoredDataset(store, objects.json<DatasetRecord>().id))!;
    expect(Array.from(stored.x)).toEqual([0, 1, 2.5, 0]);
    expect(Array.from(stored.y)).toEqual([1, 0]);

    const arrays = await upload(stack, '[[1, 2, 3.5], [4, 5, 6]]', '', { 'content-type': 'application/json' });
    expect(arrays.json<DatasetRecord>()).toMatchObject({ columns: ['0', '1', '2'], labels: 'regression', rows: 2 });

    const ndjson = await upload(stack, rows.map((r) => JSON.stringify(r)).join('\n') + '\n', '', { 'content-type': 'application/x-ndjson' });
    expect(ndjson.json<DatasetRecord>()).toMatchObject({ format: 'ndjson', rows: 2, classNames: ['a', 'b'] });
  });

  it('accepts gzip bodies, by Content-Encoding or by their magic bytes', async () => {
    const gz = gzipSync(IRIS_HEAD);
    const encoded = await upload(stack, gz, '', { 'content-type': 'text/csv', 'content-encoding': 'gzip' });
    expect(encoded.statusCode).toBe(201);
    expect(encoded.json<DatasetRecord>()).toMatchObject({ rows: 6, bytes: { received: gz.length, decompressed: IRIS_HEAD.length } });
    const sniffed = await upload(stack, gz, '?format=csv', { 'content-type': 'application/octet-stream' });
    expect(sniffed.json<DatasetRecord>()).toMatchObject({ rows: 6, classes: 3 });
  });

  it('deletes a dataset: its record, its arrays, and jobs can no longer name it', async () => {
    const { id } = (await upload(stack, IRIS_HEAD)).json<DatasetRecord>();
    expect(filesUnder(join(stack.config.DATA_DIR, 'artifacts', 'datasets', id)).sort()).toEqual(['dataset.json', 'x.f32', 'y.f32']);
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/datasets/${id}` })).statusCode).toBe(204);
    expect((await stack.app.inject(`/v1/datasets/${id}`)).statusCode).toBe(404);
    expect(await readStoredDataset(store, id)).toBeUndefined();
    expect(filesUnder(join(stack.config.DATA_DIR, 'artifacts', 'datasets'))).not.toContainEqual(expect.stringContaining(id));
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/datasets/${id}` })).statusCode).toBe(404);
  });
});

describe('jobs on uploaded datasets (checked before queueing)', () => {
  let stack: Stack;
  let iris: DatasetRecord;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
    iris = (await upload(stack, IRIS_HEAD)).json<DatasetRecord>();
  });
  afterAll(async () => stack.close());

  const model = (inputs: number, units: number) => ({
    inputShape: [inputs],
    layers: [
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'dense', units, activation: 'softmax' },
    ],
  });
  const post = (payload: object) => stack.app.inject({ method: 'POST', url: '/v1/jobs', payload });

  it('queues a job on {id} with the loss its labels call for', async () => {
    const res = await post({ dataset: { id: iris.id }, model: model(4, 3), training: { epochs: 1 } });
    expect(res.statusCode).toBe(202);
    expect(res.json<JobRecord>().spec.loss).toBe('categoricalCrossentropy');
  });

  it('fits a preset to the dataset, in a job and in a model summary', async () => {
    const spec = { dataset: { id: iris.id }, model: { preset: 'mlp' }, training: { epochs: 2 } };
    const res = await post(spec);
    expect(res.statusCode).toBe(202);
    const model = res.json<JobRecord>().spec.model;
    expect(model.inputShape).toEqual([4]);
    expect(model.layers!.at(-1)).toMatchObject({ type: 'dense', units: 3, activation: 'softmax' });

    const summary = await stack.app.inject({ method: 'POST', url: '/v1/models/summary', payload: spec });
    expect(summary.statusCode).toBe(200);
    expect(summary.json<{ samples: number }>().samples).toBe(6);
    const unknown = await stack.app.inject({ method: 'POST', url: '/v1/models/summary', payload: { ...spec, dataset: { id: 'ds_nope' } } });
    expect(unknown.statusCode).toBe(400);
  });

  it('refuses shapes that do not fit the dataset, and unknown ids, naming the path', async () => {
    const cases: [object, (string | number)[]][] = [
      [{ dataset: { id: iris.id }, model: model(3, 3) }, ['model', 'inputShape']],
      [{ dataset: { id: iris.id }, model: model(4, 2) }, ['model', 'layers', 1, 'units']],
      [{ dataset: { id: iris.id }, model: model(4, 3), training: { epochs: 1, validationSplit: 0.1 } }, ['training', 'validationSplit']],
      [{ dataset: { id: 'ds_nope' }, model: model(4, 3) }, ['dataset', 'id']],
    ];
    for (const [spec, path] of cases) {
      const res = await post(spec);
      expect(res.statusCode, JSON.stringify(path)).toBe(400);
      expect(res.json<{ error: { details: { path: unknown[] }[] } }>().error.details.map((d) => d.path)).toContainEqual(path);
    }
  });
});

describe('uploads refused cleanly', () => {
  let stack: Stack;
  beforeAll(async () => {
    const config = testConfig({
      MAX_UPLOAD_BYTES: '65536',
      MAX_UPLOAD_DECOMPRESSED_BYTES: '262144',
      MAX_DATASET_ROWS: '50',
      MAX_DATASET_COLUMNS: '10',
      MAX_DATASET_CLASSES: '5',
    });
    stack = await startStack({ worker: false, config });
  });
  afterAll(async () => stack.close());

  const json = { 'content-type': 'application/json' };
  // One quoted cell of 40 MB: nothing in it trips the parser before the decompressed limit does.
  const BOMB = gzipSync(Buffer.concat([Buffer.from('a,b\n"'), Buffer.alloc(40 * 1024 * 1024, 'x')]), { level: 9 });
  /** Each: a name, the request, the status, the error code, and what details must contain. */
  const cases: [string, () => Promise<{ statusCode: number; json: <T>() => T }>, number, string, Record<string, unknown>?][] = [
    ['an empty body', () => upload(stack, ''), 400, 'malformed_dataset'],
    ['blank lines only', () => upload(stack, '\n \n\r\n'), 400, 'malformed_dataset'],
    ['a header only', () => upload(stack, 'a,b,label\n'), 400, 'malformed_dataset'],
    ['one column', () => upload(stack, 'a\n1\n2\n'), 400, 'malformed_dataset'],
    ['a ragged row', () => upload(stack, 'a,b,label\n1,2,x\n3,4,y\n5,x\n'), 400, 'malformed_dataset', { row: 3, line: 4 }],
    ['a row too long', () => upload(stack, 'a,b,label\n1,2,x\n3,4,y,9\n'), 400, 'malformed_dataset', { row: 2, line: 3 }],
    ['a non-numeric feature', () => upload(stack, 'a,b,label\n1,2,x\n3,four,y\n'), 400, 'malformed_dataset', { row: 2, line: 3, column: 'b' }],
    ['a NaN among numeric labels', () => upload(stack, 'a,b\n1,2.5\n2,NaN\n3,1\n'), 400, 'malformed_dataset', { row: 2, line: 3, column: 'b' }],
    ['a label too large for float32', () => upload(stack, 'a,b\n1,2.5\n2,1e39\n'), 400, 'malformed_dataset', { row: 2, line: 3, column: 'b' }],
    ['a feature too large for float32', () => upload(stack, 'a,b,label\n1,2,x\n1e39,3,y\n'), 400, 'malformed_dataset', { row: 2, line: 3, column: 'a' }],
    ['an empty feature cell', () => upload(stack, 'a,b,label\n1,,x\n'), 400, 'malformed_dataset', { row: 1, line: 2, column: 'b' }],
    ['NaN as a feature', () => upload(stack, 'a,b,label\n1,NaN,x\n'), 400, 'malformed_dataset', { row: 1, column: 'b' }],
    ['an empty label', () => upload(stack, 'a,b,label\n1,2,x\n1,2,\n'), 400, 'malformed_dataset', { row: 2, column: 'label' }],
    ['an unclosed quote', () => upload(stack, 'a,b,label\n1,2,"x\n'), 400, 'malformed_dataset', { line: 2 }],
    ['one class only', () => upload(stack, 'a,label\n1,x\n2,x\n'), 400, 'malformed_dataset', { column: 'label' }],
    ['text labels as raw numbers', () => upload(stack, 'a,label\n1,2\n2,x\n', '?labels=raw'), 400, 'malformed_dataset', { row: 2, column: 'label' }],
    ['binary with three classes', () => upload(stack, 'a,label\n1,x\n2,y\n3,z\n', '?labels=binary'), 400, 'invalid_upload_option'],
    ['an unknown label column', () => upload(stack, 'a,b\n1,2\n', '?label=price'), 400, 'invalid_upload_option'],
    ['the label among the features', () => upload(stack, 'a,b\n1,2\n', '?label=b&features=a,b'), 400, 'invalid_upload_option'],
    ['an inputShape that does not fit', () => upload(stack, 'a,b,c\n1,2,3\n', '?inputShape=3'), 400, 'invalid_upload_option'],
    ['JSON that is not an array', () => upload(stack, '{"x": [[1]], "y": [1]}', '', json), 400, 'malformed_dataset'],
    ['a JSON row that does not parse', () => upload(stack, '[[1,2],[3,]]', '', json), 400, 'malformed_dataset', { row: 2 }],
    ['a JSON row missing a key', () => upload(stack, '[{"a":1,"y":0},{"y":1}]', '', json), 400, 'malformed_dataset', { row: 2, column: 'a' }],
    ['a JSON row with a nested value', () => upload(stack, '[{"a":1,"y":0},{"a":[1],"y":1}]', '', json), 400, 'malformed_dataset', { row: 2, column: 'a' }],
    ['an unclosed JSON array', () => upload(stack, '[[1,2],[3,4]', '', json), 400, 'malformed_dataset'],
    ['a bad NDJSON line', () => upload(stack, '[1,2]\n\n[3,\n', '', { 'content-type': 'application/x-ndjson' }), 400, 'malformed_dataset', { row: 2, line: 3 }],
    ['a corrupt gzip body', () => upload(stack, gzipSync('a,b\n1,2\n').subarray(0, 12)), 400, 'malformed_dataset'],
    ['an unknown content type', () => upload(stack, 'a,b\n1,2\n', '', { 'content-type': 'image/png' }), 415, 'unsupported_media_type'],
    ['no content type', () => upload(stack, 'a,b\n1,2\n', '', {}), 415, 'unsupported_media_type'],
    [
      'an unknown content encoding',
      () => upload(stack, 'a,b\n1,2\n', '', { 'content-type': 'text/csv', 'content-encoding': 'br' }),
      415,
      'unsupported_media_type',
    ],
    ['a body over MAX_UPLOAD_BYTES', () => upload(stack, `a,b\n${'1,2\n'.repeat(20_000)}`), 413, 'upload_too_large', { limit: 'MAX_UPLOAD_BYTES' }],
    [
      'a streamed body over MAX_UPLOAD_BYTES (no Content-Length)',
      () => upload(stack, Readable.from(['a,b\n"', ...Array.from({ length: 100 }, () => 'x'.repeat(1024))])),
      413,
      'upload_too_large',
      { limit: 'MAX_UPLOAD_BYTES' },
    ],
    [
      'a gzip bomb (40 KB that inflate to 40 MB)',
      () => upload(stack, BOMB, '', { 'content-type': 'text/csv', 'content-encoding': 'gzip' }),
      413,
      'upload_too_large',
      { limit: 'MAX_UPLOAD_DECOMPRESSED_BYTES' },
    ],
    ['too many rows', () => upload(stack, `a,b\n${'1,2\n'.repeat(51)}`), 413, 'upload_too_large', { limit: 'MAX_DATASET_ROWS' }],
    [
      'too many columns',
      () => upload(stack, `${Array.from({ length: 11 }, (_, i) => i).join(',')}\n`),
      413,
      'upload_too_large',
      { limit: 'MAX_DATASET_COLUMNS' },
    ],
    [
      'too many classes',
      () => upload(stack, `a,b\n${Array.from({ length: 6 }, (_, i) => `1,c${i}`).join('\n')}`),
      413,
      'upload_too_large',
      { limit: 'MAX_DATASET_CLASSES' },
    ],
  ];

  it.each(cases)('%s', async (_name, request, status, code, details) => {
    const res = await request();
    expect(res.statusCode).toBe(status);
    const body = res.json<ErrorBody>();
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(0);
    if (details) expect(body.error.details).toMatchObject(details);
  });

  it('leaves nothing behind: no dataset listed, no file in DATA_DIR', async () => {
    // Runs after every refusal above (tests in a file run in order).
    expect((await stack.app.inject('/v1/datasets')).json<{ items: unknown[] }>().items).toEqual([]);
    expect(filesUnder(stack.config.DATA_DIR)).toEqual([]);
    expect(await stack.app.redis.keys(`${stack.config.REDIS_PREFIX}:dataset*`)).toEqual([]);
  });

  it('sweeps temp files an upload left when its process died', async () => {
    const dir = join(stack.config.DATA_DIR, 'tmp', 'uploads');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'ds_dead.x.f32'), 'half');
    expect(await stack.app.datasets.sweepTempFiles(60_000, Date.now() + 30_000)).toBe(0);
    expect(await stack.app.datasets.sweepTempFiles(60_000, Date.now() + 120_000)).toBe(1);
    expect(filesUnder(stack.config.DATA_DIR)).toEqual([]);
  });

  it('answers unknown ids with 404 on GET and DELETE', async () => {
    for (const method of ['GET', 'DELETE'] as const) {
      const res = await stack.app.inject({ method, url: '/v1/datasets/ds_missing' });
      expect(res.statusCode, method).toBe(404);
      expect(res.json<ErrorBody>().error.code).toBe('not_found');
    }
  });
});
