import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import type { DatasetRecord, UploadFormat, UploadOptions } from '../spec/index.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { datasetKeys } from '../storage/artifact-keys.js';
import { DatasetBuilder, type DatasetLimits } from './dataset-builder.js';
import { CsvReader, JsonArrayReader, NdjsonReader, type RowReader } from './row-readers.js';
import { MalformedUploadError, UnsupportedUploadError, UploadAbortedError, UploadTooLargeError } from './upload-errors.js';

export interface UploadLimits extends DatasetLimits {
  /** Request body bytes, as sent (compressed when gzip). */
  maxBytes: number;
  /** Bytes after decompression: a gzip bomb stops here. */
  maxDecompressedBytes: number;
}

export interface UploadBody {
  stream: Readable;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  contentLength: number | undefined;
}

const CONTENT_TYPES: Record<string, UploadFormat> = {
  'text/csv': 'csv',
  'application/csv': 'csv',
  'text/plain': 'csv',
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/gzip': 'csv',
  'application/x-gzip': 'csv',
};
export const UPLOAD_CONTENT_TYPES = Object.keys(CONTENT_TYPES);

/** The format: `?format=` when given, else from the content type (gzip bodies default to CSV). */
export function uploadFormat(contentType: string | undefined, format: UploadFormat | undefined): UploadFormat {
  if (format) return format;
  const type = contentType?.split(';')[0]!.trim().toLowerCase() ?? '';
  const found = CONTENT_TYPES[type];
  if (!found) {
    throw new UnsupportedUploadError(
      `cannot read ${type ? `a body of type ${type}` : 'a body without a content type'} as a dataset; send ${UPLOAD_CONTENT_TYPES.join(', ')}, or name the format with ?format=csv|json|ndjson`,
    );
  }
  return found;
}

const isGzip = (chunk: Uint8Array) => chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b;

/**
 * Reads an upload as it streams in: counts body bytes, gunzips (Content-Encoding: gzip or the
 * gzip magic bytes) while counting decompressed bytes, parses rows, and writes the features to
 * a temp file as float32. Only then does anything reach the artifact store: the arrays, then the
 * record. On any failure the temp file and whatever reached the store are removed.
 */
export async function ingestUpload(
  store: ArtifactStore,
  tmpDir: string,
  id: string,
  body: UploadBody,
  options: UploadOptions,
  limits: UploadLimits,
  now = new Date(),
): Promise<DatasetRecord> {
  const format = uploadFormat(body.contentType, options.format);
  const encoding = body.contentEncoding?.trim().toLowerCase() ?? '';
  if (!['', 'identity', 'gzip', 'x-gzip'].includes(encoding)) {
    throw new UnsupportedUploadError(`Content-Encoding ${encoding} is not supported; send the body plain or gzip`);
  }
  if (body.contentLength !== undefined && body.contentLength > limits.maxBytes) {
    throw new UploadTooLargeError('MAX_UPLOAD_BYTES', limits.maxBytes, `the body has ${body.contentLength} bytes`);
  }
  await mkdir(tmpDir, { recursive: true });
  const xPath = join(tmpDir, `${id}.x.f32`);
  const keys = datasetKeys(id);
  let stored = false;
  try {
    const builder = new DatasetBuilder(options, limits, format === 'csv' ? options.header : 'false');
    const reader: RowReader =
      format === 'csv'
        ? new CsvReader(options.delimiter, builder, limits.maxColumns, (n) => builder.tooManyColumns(n))
        : format === 'json'
          ? new JsonArrayReader(builder)
          : new NdjsonReader(builder);
    let received = 0;
    let decompressed = 0;
    const file = await open(xPath, 'w');
    try {
      await pipeline(
        // Not the request itself: a failed upload must leave its socket open for the error response.
        body.stream.iterator({ destroyOnReturn: false }),
        async function* countReceived(source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            received += chunk.length;
            if (received > limits.maxBytes) throw new UploadTooLargeError('MAX_UPLOAD_BYTES', limits.maxBytes, 'the body is too large');
            yield chunk;
          }
        },
        async function* maybeGunzip(source: AsyncIterable<Buffer>) {
          const it = source[Symbol.asyncIterator]();
          const first = await it.next();
          if (first.done) return;
          const all = (async function* () {
            yield first.value;
            for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
          })();
          if (encoding !== 'gzip' && encoding !== 'x-gzip' && !isGzip(first.value)) {
            yield* all;
            return;
          }
          const gunzip = createGunzip();
          const feeding = pipeline(all, gunzip);
          feeding.catch(() => {});
          try {
            for await (const chunk of gunzip) yield chunk as Buffer;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code?.startsWith('Z_')) {
              throw new MalformedUploadError(`the gzip body cannot be decompressed (${(err as Error).message})`);
            }
            throw err;
          } finally {
            gunzip.destroy();
          }
          await feeding;
        },
        async function parse(source: AsyncIterable<Buffer>) {
          const decoder = new StringDecoder('utf8');
          for await (const chunk of source) {
            decompressed += chunk.length;
            if (decompressed > limits.maxDecompressedBytes) {
              throw new UploadTooLargeError('MAX_UPLOAD_DECOMPRESSED_BYTES', limits.maxDecompressedBytes, 'the decompressed body is too large');
            }
            reader.push(decoder.write(chunk));
            for (const floats of builder.takeChunks()) await file.write(new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength));
          }
          reader.push(decoder.end());
          reader.end();
          for (const floats of builder.takeChunks()) await file.write(new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength));
        },
      );
    } finally {
      await file.close();
    }
    const built = builder.finish();
    const { y, ...shape } = built;
    const xBytes = built.rows * built.features.length * 4;
    const record: DatasetRecord = {
      id,
      name: options.name ?? null,
      format,
      ...shape,
      bytes: { received, decompressed, stored: xBytes + y.byteLength },
      createdAt: now.toISOString(),
    };
    stored = true;
    await store.putStream(keys.x, createReadStream(xPath, { highWaterMark: 1 << 20 }));
    await store.put(keys.y, new Uint8Array(y.buffer, y.byteOffset, y.byteLength));
    await store.put(keys.record, JSON.stringify(record));
    return record;
  } catch (err) {
    if (stored) await store.delete(keys.dir).catch(() => undefined);
    // The client went away mid-body: its mistake (or its network's), not a server fault.
    if (body.stream.errored || ['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE'].includes((err as NodeJS.ErrnoException).code ?? '')) {
      throw new UploadAbortedError();
    }
    throw err;
  } finally {
    await rm(xPath, { force: true });
  }
}
