import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../src/storage/artifact-store.js';
import { StorageUnavailableError, trainingErrorOf } from '../src/training/errors.js';
import { withStorageFaults } from '../src/training/storage-faults.js';
import { tempDir } from './helpers.js';

describe('artifact store faults in training', () => {
  it('turns what the store throws into storage_unavailable, and leaves a missing object a miss', async () => {
    const dir = tempDir();
    const store = withStorageFaults(new LocalArtifactStore(dir));
    await store.put('jobs/a/model/model.json', '{}');
    expect((await store.get('jobs/a/model/model.json'))?.toString()).toBe('{}');
    expect(await store.get('jobs/a/missing.json')).toBeUndefined();
    expect(await store.getStream('jobs/a/missing.json')).toBeUndefined();

    // A file where a directory must go: a real write failure of the local store.
    mkdirSync(join(dir, 'artifacts', 'jobs', 'b'), { recursive: true });
    writeFileSync(join(dir, 'artifacts', 'jobs', 'b', 'checkpoints'), 'in the way');
    const failed = store.put('jobs/b/checkpoints/1.bin', new Uint8Array(4));
    await expect(failed).rejects.toBeInstanceOf(StorageUnavailableError);
    const error = trainingErrorOf(await failed.catch((e: unknown) => e));
    expect(error.code).toBe('storage_unavailable');
    expect(error.message).toMatch(/^the artifact store failed on jobs\/b\/checkpoints\/1\.bin: /);
    await expect(store.get('jobs/b/checkpoints/1.bin')).rejects.toBeInstanceOf(StorageUnavailableError);
  });
});
