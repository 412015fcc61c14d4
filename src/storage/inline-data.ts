import { createHash } from 'node:crypto';
import { type DatasetSpec, type InlineDataRef, type StoredDatasetSpec, type WithDatasets, isInlineDataRef, mapDatasets } from '../spec/index.js';
import type { ArtifactStore } from './artifact-store.js';
import { inlineDataKey } from './artifact-keys.js';

type InlineArrays = NonNullable<DatasetSpec['inline']>;
type SpecWithData = { dataset: DatasetSpec; training: { validationData?: DatasetSpec } };
type StoredSpecWithData = { dataset: StoredDatasetSpec; training: { validationData?: StoredDatasetSpec } };

/** The stored data a reference names is gone (deleted by hand, or its owner was deleted). */
export class InlineDataMissingError extends Error {
  constructor(readonly ref: InlineDataRef) {
    super(`the inline data ${ref.artifact} is no longer in the artifact store`);
  }
}

/**
 * Moves the inline datasets of specs into the artifact store under one owner (a job's or an
 * experiment's prefix): `store` swaps each for its reference, `write` puts the texts, `bytes`
 * is their size (what the tenant is charged), `discard` removes them again. The text is
 * `JSON.stringify({x, y})`, so every number reads back exactly as it was parsed.
 */
export class InlineDataWriter {
  private readonly texts = new Map<string, string>();

  constructor(private readonly owner: string) {}

  /** The spec with its inline datasets replaced by references (nothing is written yet). */
  store<S extends SpecWithData>(spec: S): Promise<WithDatasets<S, StoredDatasetSpec>> {
    return mapDatasets(spec, (d: DatasetSpec): StoredDatasetSpec => (d.inline ? { ...d, inline: this.add(d.inline) } : (d as StoredDatasetSpec)));
  }

  private add(inline: InlineArrays): InlineDataRef {
    const text = JSON.stringify({ x: inline.x, y: inline.y });
    const artifact = inlineDataKey(this.owner, createHash('sha256').update(text).digest('hex'));
    this.texts.set(artifact, text);
    return { artifact, samples: inline.x.length, bytes: Buffer.byteLength(text) };
  }

  /** Bytes of the distinct texts to store. */
  get bytes(): number {
    let total = 0;
    for (const text of this.texts.values()) total += Buffer.byteLength(text);
    return total;
  }

  async write(artifacts: ArtifactStore): Promise<void> {
    for (const [key, text] of this.texts) await artifacts.put(key, text);
  }

  /** Removes what write stored (after a failure to record its owner). */
  async discard(artifacts: ArtifactStore): Promise<void> {
    for (const key of this.texts.keys()) await artifacts.delete(key);
  }
}

/** The arrays a reference names; throws InlineDataMissingError when they are gone. */
export async function readInlineData(artifacts: ArtifactStore, ref: InlineDataRef): Promise<InlineArrays> {
  const raw = await artifacts.get(ref.artifact);
  if (!raw) throw new InlineDataMissingError(ref);
  if (raw.length !== ref.bytes) throw new Error(`inline data ${ref.artifact}: ${raw.length} bytes stored, ${ref.bytes} recorded`);
  return JSON.parse(raw.toString('utf8')) as InlineArrays;
}

/**
 * The spec with its inline data read back from the store: the spec as it was posted. A record
 * written before inline data moved to the artifact store still carries the arrays; they pass.
 */
export function restoreInlineData<S extends StoredSpecWithData>(artifacts: ArtifactStore, spec: S): Promise<WithDatasets<S, DatasetSpec>> {
  return mapDatasets(spec, async (d: StoredDatasetSpec): Promise<DatasetSpec> => {
    if (!isInlineDataRef(d.inline)) return d as DatasetSpec;
    return { ...d, inline: await readInlineData(artifacts, d.inline) };
  });
}
