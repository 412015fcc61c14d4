import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { randomUUID } from 'node:crypto';

/**
 * Where trained models, checkpoints and uploaded datasets live, keyed by ids, never by file
 * paths, so API and workers on different machines can share it. Two implementations side by
 * side: the local directory (the default, for one machine) and S3-compatible object storage
 * (`s3-artifact-store.ts`); one contract test suite runs against both.
 */
export interface ArtifactStore {
  /** Writes the whole object; a reader sees the old object or the new one, never half of one. */
  put(key: string, data: Uint8Array | string): Promise<void>;
  /** Like put, for data too large to hold in memory at once; the key appears only once the whole stream is written. */
  putStream(key: string, data: AsyncIterable<Uint8Array>): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
  /** The object as a stream of chunks (never whole in memory), or undefined when it does not exist. */
  getStream(key: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  /** Size and a version tag that changes whenever the object is written again; undefined when it does not exist. */
  stat(key: string): Promise<ArtifactInfo | undefined>;
  /** Every key under `prefix/`, in no particular order. */
  list(prefix: string): Promise<string[]>;
  /** Removes the key and everything under `key/`. */
  delete(key: string): Promise<void>;
}

export interface ArtifactInfo {
  size: number;
  version: string;
  /** When the object was last written (epoch milliseconds, by the store's clock). */
  modifiedAt: number;
}

const KEY = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/;

/** Keys are ids and names joined by `/`: nothing a path could escape with. */
export function checkArtifactKey(key: string): string {
  if (!KEY.test(key) || key.split('/').some((p) => p === '..' || p === '.')) throw new Error(`bad artifact key ${key}`);
  return key;
}

/** A store in a local directory: DATA_DIR/artifacts. */
export class LocalArtifactStore implements ArtifactStore {
  private readonly root: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir, 'artifacts');
  }

  private path(key: string): string {
    return join(this.root, checkArtifactKey(key));
  }

  async put(key: string, data: Uint8Array | string): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    // Write then rename: a reader never sees half a file.
    const tmp = `${target}.${randomUUID()}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, target);
  }

  async putStream(key: string, data: AsyncIterable<Uint8Array>): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${randomUUID()}.tmp`;
    try {
      await pipeline(data, createWriteStream(tmp));
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async getStream(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const stream = createReadStream(this.path(key), { highWaterMark: 1 << 20 });
    // Open before answering, so a missing key is `undefined` rather than a failing stream.
    return new Promise((ok, fail) => {
      stream.once('open', () => ok(stream));
      stream.once('error', (err) => (isMissing(err) ? ok(undefined) : fail(err)));
    });
  }

  async stat(key: string): Promise<ArtifactInfo | undefined> {
    try {
      const info = await stat(this.path(key));
      if (!info.isFile()) return undefined;
      return { size: info.size, version: `${info.ino}-${info.mtimeMs}-${info.size}`, modifiedAt: info.mtimeMs };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.path(prefix);
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((err: unknown) => {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw err;
    });
    return entries.filter((e) => e.isFile() && !e.name.endsWith('.tmp')).map((e) => relative(this.root, join(e.parentPath, e.name)).split(sep).join('/'));
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { recursive: true, force: true });
  }
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';
