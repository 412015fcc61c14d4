import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { type ArtifactStore, LocalArtifactStore } from '../src/storage/artifact-store.js';
import { datasetKeys, modelKeys, readMostly } from '../src/storage/artifact-keys.js';
import { CachedArtifactStore } from '../src/storage/cached-artifact-store.js';
import { artifactStoreSettings, openArtifactStore } from '../src/storage/open-artifact-store.js';
import { S3ArtifactStore, parseS3Url } from '../src/storage/s3-artifact-store.js';
import { s3Settings } from './helpers.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'descent-artifacts-'));
const s3Store = () => openArtifactStore(artifactStoreSettings(loadConfig({ ...s3Settings(), DATA_DIR: tempDir() })));

const implementations: [string, () => ArtifactStore][] = [
  ['local directory', () => new LocalArtifactStore(tempDir())],
  ['S3 (versitygw)', s3Store],
  ['S3 behind a worker cache', () => new CachedArtifactStore(s3Store(), tempDir(), 1 << 20, () => true)],
];

async function* chunks(count: number, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < count; i++) yield new Uint8Array(size).fill(i % 251);
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

describe.each(implementations)('artifact store contract: %s', (_name, open) => {
  it('puts and gets bytes and text; a missing key is undefined', async () => {
    const store = open();
    await store.put('jobs/j1/model/model.json', '{"a":1}');
    await store.put('jobs/j1/model/weights.bin', new Uint8Array([1, 2, 3, 255]));
    expect((await store.get('jobs/j1/model/model.json'))!.toString('utf8')).toBe('{"a":1}');
    expect([...(await store.get('jobs/j1/model/weights.bin'))!]).toEqual([1, 2, 3, 255]);
    expect(await store.get('jobs/j1/model/missing.bin')).toBeUndefined();
    expect(await store.get('jobs/nope/model/model.json')).toBeUndefined();
    expect(await store.getStream('jobs/nope/model/model.json')).toBeUndefined();
    expect(await store.stat('jobs/nope/model/model.json')).toBeUndefined();
  });

  it('overwrites whole objects, and stat tells the versions apart', async () => {
    const store = open();
    await store.put('jobs/j2/checkpoints/1.json', 'first');
    const first = await store.stat('jobs/j2/checkpoints/1.json');
    await store.put('jobs/j2/checkpoints/1.json', 'second, longer');
    const second = await store.stat('jobs/j2/checkpoints/1.json');
    expect(first!.size).toBe(5);
    expect(second!.size).toBe(14);
    expect(second!.version).not.toBe(first!.version);
    // When it was written, by the store's clock (the orphan sweep ages files by it): this host's, give or take skew.
    expect(Math.abs(first!.modifiedAt - Date.now())).toBeLessThan(10 * 60_000);
    expect(second!.modifiedAt).toBeGreaterThanOrEqual(first!.modifiedAt);
    expect((await store.get('jobs/j2/checkpoints/1.json'))!.toString()).toBe('second, longer');
  });

  it('streams an object larger than a multipart part in and out', async () => {
    const store = open();
    // 3 parts of 8 MiB and a bit: the S3 store sends it as a multipart upload.
    await store.putStream(datasetKeys('ds_big').x, chunks(25, 1 << 20));
    const info = await store.stat(datasetKeys('ds_big').x);
    expect(info!.size).toBe(25 << 20);
    const back = await collect((await store.getStream(datasetKeys('ds_big').x))!);
    expect(back.length).toBe(25 << 20);
    expect(back[0]).toBe(0);
    expect(back[(24 << 20) + 5]).toBe(24);
    expect((await store.get(datasetKeys('ds_big').x))!.equals(back)).toBe(true);
  });

  it('a stream that fails leaves no object behind', async () => {
    const store = open();
    async function* failing() {
      yield* chunks(9, 1 << 20);
      throw new Error('client went away');
    }
    await expect(store.putStream('datasets/ds_broken/x.f32', failing())).rejects.toThrow('client went away');
    expect(await store.stat('datasets/ds_broken/x.f32')).toBeUndefined();
    expect(await store.list('datasets/ds_broken')).toEqual([]);
  });

  it('lists the keys under a prefix and deletes a key with everything under it', async () => {
    const store = open();
    const k = datasetKeys('ds_list');
    await Promise.all([store.put(k.x, 'x'), store.put(k.y, 'y'), store.put(k.record, '{}'), store.put('datasets/ds_listed/x.f32', 'other')]);
    expect((await store.list(k.dir)).sort()).toEqual([k.record, k.x, k.y]);
    await store.delete(k.dir);
    expect(await store.list(k.dir)).toEqual([]);
    expect(await store.get(k.x)).toBeUndefined();
    // A sibling whose name starts the same is not under the deleted key.
    expect((await store.get('datasets/ds_listed/x.f32'))!.toString()).toBe('other');
    await store.delete('datasets/never-written');
  });

  it('refuses keys that are not ids and names', async () => {
    const store = open();
    for (const bad of ['../etc/passwd', 'jobs/../../x', '/abs', 'jobs//x', 'jobs/a b']) {
      await expect(store.put(bad, 'x')).rejects.toThrow(/bad artifact key/);
    }
  });
});

describe('worker artifact cache', () => {
  it('serves a read-mostly artifact from disk while it is current, never once it is deleted or rewritten', async () => {
    const dir = tempDir();
    const remote = s3Store();
    const cached = new CachedArtifactStore(remote, dir, 1 << 20, readMostly);
    const k = modelKeys('cache-job');
    await remote.put(k.weights, new Uint8Array([1, 2, 3]));
    expect([...(await cached.get(k.weights))!]).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toHaveLength(1);
    expect([...(await cached.get(k.weights))!]).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toHaveLength(1);

    await remote.put(k.weights, new Uint8Array([4, 5, 6, 7]));
    expect([...(await cached.get(k.weights))!]).toEqual([4, 5, 6, 7]);
    await remote.delete(k.weights);
    expect(await cached.get(k.weights)).toBeUndefined();

    // Checkpoints are read once, on resume: not cached.
    await remote.put('jobs/cache-job/checkpoints/1.bin', 'ckpt');
    expect((await cached.get('jobs/cache-job/checkpoints/1.bin'))!.toString()).toBe('ckpt');
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it('stays within its size bound, evicting the least recently used', async () => {
    const dir = tempDir();
    const remote = s3Store();
    const cached = new CachedArtifactStore(remote, dir, 250_000, readMostly);
    const ids = ['a', 'b', 'c', 'd'];
    for (const id of ids) await remote.put(datasetKeys(`ds_${id}`).x, new Uint8Array(100_000).fill(id.charCodeAt(0)));
    for (const id of ids) expect((await cached.get(datasetKeys(`ds_${id}`).x))![0]).toBe(id.charCodeAt(0));
    const sizes = readdirSync(dir).map((n) => statSync(join(dir, n)).size);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(250_000);
    expect(sizes).toHaveLength(2);
    // Too large to cache at all: read straight through.
    await remote.put(datasetKeys('ds_huge').x, new Uint8Array(300_000));
    expect((await cached.get(datasetKeys('ds_huge').x))!.length).toBe(300_000);
    expect(readdirSync(dir)).toHaveLength(2);
  });
});

describe('artifact store settings', () => {
  it('parses s3:// URLs and refuses others at config time', () => {
    expect(parseS3Url('s3://bucket/a/b')).toEqual({ bucket: 'bucket', prefix: 'a/b' });
    expect(parseS3Url('s3://bucket')).toEqual({ bucket: 'bucket', prefix: '' });
    expect(parseS3Url('s3://bucket/p/')).toEqual({ bucket: 'bucket', prefix: 'p' });
    expect(() => loadConfig({ ARTIFACT_STORE: 'gs://bucket' })).toThrow(/ARTIFACT_STORE/);
    expect(() => loadConfig({ ARTIFACT_STORE: '/some/dir' })).toThrow(/ARTIFACT_STORE/);
    expect(() => loadConfig({ S3_ENDPOINT: 'localhost:9000' })).toThrow(/S3_ENDPOINT/);
    expect(openArtifactStore(artifactStoreSettings(loadConfig({ DATA_DIR: tempDir() })))).toBeInstanceOf(LocalArtifactStore);
    expect(openArtifactStore(artifactStoreSettings(loadConfig({ ARTIFACT_STORE: 's3://bkt/p' })))).toBeInstanceOf(S3ArtifactStore);
    expect(openArtifactStore(artifactStoreSettings(loadConfig({ ARTIFACT_STORE: 's3://bkt/p' })), { cache: true })).toBeInstanceOf(CachedArtifactStore);
  });
});
