import { randomUUID } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../config/config.js';
import { datasetKeys } from '../../storage/artifact-keys.js';
import { type UploadBody, ingestUpload } from '../../uploads/ingest.js';
import type { DatasetStore } from '../../store/dataset-store.js';
import { type DatasetPage, type DatasetRecord, type DatasetShape, type UploadOptions, uploadedDatasetShape } from '../../spec/index.js';
import { BadRequestError, NotFoundError, QuotaExceededError } from '../../shared/errors.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import { UploadTooLargeError } from '../../uploads/upload-errors.js';
import type { QuotaService } from './quota-service.js';

export interface DatasetsDeps {
  config: Config;
  store: DatasetStore;
  artifacts: ArtifactStore;
  quotas: QuotaService;
  /** Resolves once this process's writes are on the replicas REDIS_WAIT_REPLICAS asks for. */
  replicated: () => Promise<void>;
}

/** Dataset upload use cases; errors are domain errors the one error handler maps to HTTP. */
export class DatasetsService {
  constructor(private readonly d: DatasetsDeps) {}

  private get tmpDir(): string {
    return join(this.d.config.DATA_DIR, 'tmp', 'uploads');
  }

  /**
   * Removes temp files of uploads that never finished (the process died mid-upload); a failed
   * upload removes its own. Returns how many it removed.
   */
  async sweepTempFiles(olderThanMs = 60 * 60 * 1000, now = Date.now()): Promise<number> {
    let removed = 0;
    const names = await readdir(this.tmpDir).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(this.tmpDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info && now - info.mtimeMs > olderThanMs) {
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }

  /**
   * Parses the body as it streams, stores the arrays, and only then makes the record visible.
   * The tenant's dataset quota left caps the decompressed size, so a gzip bomb stops at it.
   */
  async upload(body: UploadBody, options: UploadOptions, tenant: string): Promise<DatasetRecord> {
    const c = this.d.config;
    const id = `ds_${randomUUID()}`;
    const room = await this.d.quotas.datasetRoom(tenant);
    let record: DatasetRecord;
    try {
      record = await ingestUpload(this.d.artifacts, this.tmpDir, id, body, options, {
        maxBytes: c.MAX_UPLOAD_BYTES,
        maxDecompressedBytes: Math.min(c.MAX_UPLOAD_DECOMPRESSED_BYTES, room),
        maxRows: c.MAX_DATASET_ROWS,
        maxColumns: c.MAX_DATASET_COLUMNS,
        maxClasses: c.MAX_DATASET_CLASSES,
      });
    } catch (err) {
      if (err instanceof UploadTooLargeError && err.limit === 'MAX_UPLOAD_DECOMPRESSED_BYTES' && room < c.MAX_UPLOAD_DECOMPRESSED_BYTES) {
        const limits = await this.d.quotas.limits(tenant);
        throw new QuotaExceededError('datasetBytes', limits.datasetBytes - room + err.max + 1, limits.datasetBytes);
      }
      throw err;
    }
    // The quota left capped the ingestion, but concurrent uploads each saw it whole: the record is
    // written and charged only if it still fits, in one step.
    const charge = { datasetBytes: record.bytes.decompressed, artifactBytes: record.bytes.stored };
    try {
      const refused = await this.d.store.create(record, tenant, { charge, limits: await this.d.quotas.limits(tenant) });
      if (refused) throw this.d.quotas.refusal(refused);
    } catch (err) {
      // Arrays no record names go; a record that was written keeps them (and its charge).
      if (!(await this.d.store.exists(id).catch(() => true))) await this.d.artifacts.delete(datasetKeys(id).dir).catch(() => undefined);
      throw err;
    }
    await this.d.replicated();
    return record;
  }

  /** The shapes a job spec naming this dataset is checked against; undefined for an unknown id. */
  async shape(id: string): Promise<DatasetShape | undefined> {
    const record = await this.d.store.get(id);
    return record ? uploadedDatasetShape(record) : undefined;
  }

  async get(id: string): Promise<DatasetRecord> {
    const record = await this.d.store.get(id);
    if (!record) throw new NotFoundError('dataset', id);
    return record;
  }

  /** Newest first; `tenant` undefined lists every tenant's (admin). */
  async list(query: { limit: number; cursor?: string }, tenant: string | undefined): Promise<DatasetPage> {
    const offset = query.cursor === undefined ? 0 : Number(query.cursor);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new BadRequestError('invalid_cursor', 'the cursor is not one this API returned');
    return this.d.store.list(query.limit, offset, tenant);
  }

  /**
   * Deletes the record first (no new job can name the dataset), then the arrays. Queued jobs
   * that name it fail with `dataset_not_found` when they start.
   */
  async remove(id: string): Promise<void> {
    const removed = await this.d.store.remove(id);
    if (!removed) throw new NotFoundError('dataset', id);
    await this.d.artifacts.delete(datasetKeys(id).dir);
    const { record, tenant } = removed;
    await this.d.quotas.tenants.addUsage(tenant, { datasetBytes: -record.bytes.decompressed, artifactBytes: -record.bytes.stored });
  }
}
