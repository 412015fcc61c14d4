import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArtifactInfo, ArtifactStore } from './artifact-store.js';

/**
 * A bounded local disk cache in front of a remote store, for what workers read again and again
 * (a model to predict with, a dataset to train on). Each read asks the store for the object's
 * version first (one HEAD): a copy is served only while it is the current version, so a deleted
 * or rewritten artifact is never served from the cache. Several processes on one host (a worker
 * and its training processes) share the directory: files appear by rename, and eviction (least
 * recently used first, by file time) tolerates files vanishing under it.
 */
export class CachedArtifactStore implements ArtifactStore {
  private readonly dir: string;

  constructor(
    private readonly inner: ArtifactStore,
    dir: string,
    private readonly maxBytes: number,
    /** Which keys are worth caching (immutable artifacts read repeatedly). */
    private readonly cacheable: (key: string) => boolean,
  ) {
    this.dir = resolve(dir);
  }

  private file(key: string, info: ArtifactInfo): string {
    return join(this.dir, createHash('sha256').update(`${key}\n${info.version}`).digest('hex'));
  }

  async get(key: string): Promise<Buffer | undefined> {
    if (!this.cacheable(key)) return this.inner.get(key);
    const info = await this.inner.stat(key);
    if (!info) return undefined;
    const file = this.file(key, info);
    const cached = await readFile(file).catch(() => undefined);
    if (cached && cached.length === info.size) {
      const now = new Date();
      await utimes(file, now, now).catch(() => undefined);
      return cached;
    }
    if (info.size > this.maxBytes) return this.inner.get(key);
    const stream = await this.inner.getStream(key);
    if (!stream) return undefined;
    await mkdir(this.dir, { recursive: true });
    const tmp = `${file}.${randomUUID()}.tmp`;
    try {
      await pipeline(stream, createWriteStream(tmp));
      await rename(tmp, file);
    } finally {
      await rm(tmp, { force: true });
    }
    await this.evict(file);
    return readFile(file);
  }

  /** Removes least recently used files until the cache fits, sparing the one just written. */
  private async evict(keep: string): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const files = (
      await Promise.all(
        names
          .filter((n) => !n.endsWith('.tmp'))
          .map(async (n) => {
            const path = join(this.dir, n);
            const s = await stat(path).catch(() => undefined);
            return s ? { path, size: s.size, used: s.mtimeMs } : undefined;
          }),
      )
    ).filter((f) => f !== undefined);
    let total = files.reduce((sum, f) => sum + f.size, 0);
    for (const f of files.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      if (f.path === keep) continue;
      await rm(f.path, { force: true });
      total -= f.size;
    }
  }

  put(key: string, data: Uint8Array | string): Promise<void> {
    return this.inner.put(key, data);
  }

  putStream(key: string, data: AsyncIterable<Uint8Array>): Promise<void> {
    return this.inner.putStream(key, data);
  }

  getStream(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    return this.inner.getStream(key);
  }

  stat(key: string): Promise<ArtifactInfo | undefined> {
    return this.inner.stat(key);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}
