import { datasetRecordSchema, type DatasetRecord, elementCount } from '../spec/index.js';
import type { ArtifactStore } from './artifact-store.js';
import { datasetKeys } from './artifact-keys.js';

/**
 * An uploaded dataset in the artifact store: features and targets as little-endian float32,
 * row-major, and its record. The record is written last, so a reader that finds it finds the
 * arrays whole.
 */

export interface StoredDataset {
  record: DatasetRecord;
  x: Float32Array;
  y: Float32Array;
}

function floats(buffer: Buffer): Float32Array {
  // A Float32Array view needs 4-byte alignment; a pooled Buffer may not have it.
  const aligned = buffer.byteOffset % 4 === 0 ? buffer : Buffer.from(buffer);
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}

/** The dataset, or undefined when it does not exist (never uploaded, or deleted). */
export async function readStoredDataset(store: ArtifactStore, id: string): Promise<StoredDataset | undefined> {
  const k = datasetKeys(id);
  const raw = await store.get(k.record);
  if (!raw) return undefined;
  const record = datasetRecordSchema.parse(JSON.parse(raw.toString('utf8')));
  const [x, y] = await Promise.all([store.get(k.x), store.get(k.y)]);
  if (!x || !y) return undefined;
  const xs = floats(x);
  const ys = floats(y);
  if (xs.length !== record.rows * elementCount(record.inputShape) || ys.length !== record.rows * elementCount(record.targetShape)) {
    throw new Error(`dataset ${id}: the stored arrays do not match its record`);
  }
  return { record, x: xs, y: ys };
}
