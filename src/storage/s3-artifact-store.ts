import { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type ArtifactInfo, type ArtifactStore, checkArtifactKey } from './artifact-store.js';

export interface S3Location {
  bucket: string;
  /** Key prefix inside the bucket, without a trailing slash ('' for the bucket's root). */
  prefix: string;
}

export interface S3Settings {
  /** Non-AWS servers (MinIO, Ceph, versitygw, R2, ...); '' for AWS itself. Path-style addressing when set. */
  endpoint: string;
  region: string;
  /** '' leaves credentials to the AWS SDK's default chain (profile, instance role, ...). */
  accessKeyId: string;
  secretAccessKey: string;
}

/** `s3://bucket/some/prefix` -> its bucket and prefix. */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*?))?\/?$/.exec(url);
  if (!match) throw new Error(`not an s3://bucket/prefix URL: ${url}`);
  return { bucket: match[1]!, prefix: match[2] ?? '' };
}

/** Multipart parts of 8 MiB, two in flight: a streamed upload holds about 16 MiB at a time. */
const PART_SIZE = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

/**
 * Artifacts in an S3-compatible bucket. A PUT (and a multipart upload's completion) makes an
 * object visible whole, and S3 reads after writes are strongly consistent, so the same
 * write-then-point protocol as the local directory holds: the data first, the record that names
 * it last.
 */
export class S3ArtifactStore implements ArtifactStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(location: S3Location, settings: S3Settings) {
    this.bucket = location.bucket;
    this.prefix = location.prefix ? `${location.prefix}/` : '';
    this.client = new S3Client({
      region: settings.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint, forcePathStyle: true } : {}),
      ...(settings.accessKeyId ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } } : {}),
      // Servers other than AWS often lack the newer default integrity checksums; send them only where S3 requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private key(key: string): string {
    return this.prefix + checkArtifactKey(key);
  }

  async put(key: string, data: Uint8Array | string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: data }));
  }

  async putStream(key: string, data: AsyncIterable<Uint8Array>): Promise<void> {
    // A multipart upload: the object appears only when it completes; a failure aborts it and its parts.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.key(key), Body: Readable.from(data, { objectMode: false }) },
      partSize: PART_SIZE,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async get(key: string): Promise<Buffer | undefined> {
    const body = await this.body(key);
    return body ? Buffer.from(await body.transformToByteArray()) : undefined;
  }

  async getStream(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const body = await this.body(key);
    return body ? (body as unknown as Readable) : undefined;
  }

  private async body(key: string) {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return res.Body;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async stat(key: string): Promise<ArtifactInfo | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      const modifiedAt = res.LastModified?.getTime() ?? 0;
      return { size: res.ContentLength ?? 0, version: `${res.ETag ?? ''}-${modifiedAt}`, modifiedAt };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const full = `${this.key(prefix)}/`;
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key.slice(this.prefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async delete(key: string): Promise<void> {
    const keys = [key, ...(await this.list(key))];
    // DeleteObjects takes at most 1000 keys; deleting a missing key is not an error in S3.
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const res = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.key(k) })), Quiet: true } }),
      );
      const failed = res.Errors?.filter((e) => e.Code !== 'NoSuchKey') ?? [];
      if (failed.length > 0) throw new Error(`could not delete ${failed.length} artifacts under ${key}: ${failed[0]!.Code} ${failed[0]!.Message}`);
    }
  }

  close(): void {
    this.client.destroy();
  }
}

function isNotFound(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata.httpStatusCode === 404;
}
