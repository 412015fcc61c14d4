import { createHash, randomInt, randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/config.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import type { DatasetStore } from '../../store/dataset-store.js';
import type { JobLifecycle } from '../../store/job-lifecycle.js';
import { InvalidCursorError, type JobStore } from '../../store/job-store.js';
import type { RedisKeys } from '../../store/keys.js';
import { WorkerRegistry } from '../../store/worker-registry.js';
import { type ControlMessage, type PredictJobData, type PredictResult, type TrainingJobData, predictJobOptions } from '../../queue/queues.js';
import { enqueueTraining } from '../../queue/enqueue.js';
import type { PredictReplies } from './predict-replies.js';
import {
  type JobRecord,
  type JobSpec,
  type JobStatus,
  type ResolvedJobSpec,
  type StoredJobRecord,
  type ModelCost,
  type SpecIssue,
  describeDataset,
  elementCount,
  valuesPerSample,
  sampleShape,
  uploadedDatasetShape,
} from '../../spec/index.js';
import {
  type DraftJobSpec,
  type KnownShapes,
  type Limits,
  trainingMemory,
  trainingFlops,
  checkLimits,
  prepareSpec,
  summarizeModel,
} from '../../planning/index.js';
import {
  BadRequestError,
  ConflictError,
  GoneError,
  InvalidSpecError,
  LimitExceededError,
  NotFoundError,
  UnavailableError,
  UnprocessableError,
} from '../../shared/errors.js';
import { jobArtifacts } from '../../storage/artifact-keys.js';
import { InlineDataMissingError, InlineDataWriter, restoreInlineData } from '../../storage/inline-data.js';
import type { QuotaService } from './quota-service.js';

export interface JobsDeps {
  config: Config;
  redis: Redis;
  keys: RedisKeys;
  store: JobStore;
  lifecycle: JobLifecycle;
  datasets: DatasetStore;
  trainingQueue: Queue<TrainingJobData>;
  predictQueue: Queue<PredictJobData, PredictResult>;
  predictReplies: PredictReplies;
  artifacts: ArtifactStore;
  quotas: QuotaService;
  /** Resolves once this process's writes are on the replicas REDIS_WAIT_REPLICAS asks for. */
  replicated: () => Promise<void>;
}

/** The spec limits the configuration sets. */
export function limitsOf(c: Config): Limits {
  return {
    maxEpochs: c.MAX_EPOCHS,
    maxLayers: c.MAX_LAYERS,
    maxUnits: c.MAX_UNITS,
    maxInlineSamples: c.MAX_INLINE_SAMPLES,
    maxBuiltinSamples: c.MAX_BUILTIN_SAMPLES,
    maxRuntimeSeconds: c.MAX_RUNTIME_SECONDS,
    maxParams: c.MAX_PARAMS,
    maxFlopsPerSample: c.MAX_FLOPS_PER_SAMPLE,
    maxTrainingMemoryMb: c.MAX_TRAINING_MEMORY_MB,
    maxSampleEpochs: c.MAX_SAMPLE_EPOCHS,
  };
}

/** Output values one predict row gives (the model's output shape, as the summary computes it). */
function predictOutputValues(model: JobRecord['spec']['model']): number | undefined {
  if (!('layers' in model) || !model.layers) return undefined;
  const shape = summarizeModel(model as Parameters<typeof summarizeModel>[0]).summary?.outputShape;
  return shape ? elementCount(shape) : undefined;
}

/** How long an Idempotency-Key keeps answering with the job it created. */
export const IDEMPOTENCY_TTL_S = 24 * 60 * 60;

/** Job use cases: the routes call these and map their domain errors to HTTP. */
export class JobsService {
  constructor(private readonly d: JobsDeps) {}

  /**
   * Submits once per Idempotency-Key: a repeat with the same key and body returns the job the
   * first request created (for 24 h, even after that job is deleted); the same key with another
   * body is refused.
   */
  async submitIdempotent(spec: JobSpec, key: string, tenant: string, requestId?: string): Promise<{ record: JobRecord; replayed: boolean }> {
    const hash = (v: string) => createHash('sha256').update(v).digest('hex');
    // Keys are the tenant's own: another tenant's same key neither replays nor blocks this one.
    const slot = this.d.keys.idempotency(hash(`${tenant}\u0000${key}`));
    const body = hash(JSON.stringify(spec));
    const id = randomUUID();
    const claimed = await this.d.redis.set(slot, JSON.stringify({ id, body }), 'EX', IDEMPOTENCY_TTL_S, 'NX');
    if (claimed) {
      try {
        return { record: await this.submit(spec, tenant, id, requestId), replayed: false };
      } catch (err) {
        // Nothing was created: the key stays free for a corrected request.
        await this.d.redis.del(slot).catch(() => 0);
        throw err;
      }
    }
    const previous = JSON.parse((await this.d.redis.get(slot)) ?? '{}') as { id?: string; body?: string };
    if (previous.body !== body) {
      throw new UnprocessableError('idempotency_key_reused', 'this Idempotency-Key was used with a different request body');
    }
    const record = await this.d.store.get(previous.id!);
    if (!record) throw new GoneError('job_deleted', `the job this Idempotency-Key created (${previous.id}) was deleted`);
    return { record: await this.withData(record), replayed: true };
  }

  /**
   * The shapes of the uploaded datasets a spec names, and a problem for each that does not exist
   * or belongs to another tenant (told apart by nothing: both "no uploaded dataset has id").
   */
  private async lookUpUploads(spec: DraftJobSpec, tenant: string | undefined): Promise<{ known: KnownShapes; issues: SpecIssue[] }> {
    const known: KnownShapes = {};
    const issues: SpecIssue[] = [];
    const uses = [
      ['dataset', spec.dataset?.id, ['dataset', 'id']],
      ['validationData', spec.training.validationData?.id, ['training', 'validationData', 'id']],
    ] as const;
    const classNames: Partial<Record<(typeof uses)[number][0], string[]>> = {};
    for (const [slot, id, path] of uses) {
      if (id === undefined) continue;
      const owned = await this.d.datasets.getOwned(id);
      const record = owned && (tenant === undefined || owned.tenant === tenant) ? owned.record : undefined;
      if (record) {
        known[slot] = uploadedDatasetShape(record);
        if (record.classNames) classNames[slot] = record.classNames;
      } else issues.push({ path: [...path], message: `no uploaded dataset has id ${JSON.stringify(id)}` });
    }
    // Each upload numbers its classes by its own sorted names: a holdout must name the same ones.
    const [train, held] = [classNames.dataset, classNames.validationData];
    if (train && held && train.join('\u0000') !== held.join('\u0000')) {
      issues.push({
        path: ['training', 'validationData', 'id'],
        message: `the holdout's classes (${held.join(', ')}) differ from the training data's (${train.join(', ')}), so their class numbers would not match`,
      });
    }
    return { known, issues };
  }

  /**
   * Every check a spec passes before it is queued (POST /v1/models/summary shows the same): the
   * spec prepared (presets expanded, loss decided), its model summary, and the limits it exceeds.
   */
  async preflight<S extends DraftJobSpec>(spec: S, tenant: string | undefined) {
    const { known, issues: missing } = await this.lookUpUploads(spec, tenant);
    const { prepared, summary, issues } = prepareSpec(spec, known);
    if (!prepared || !summary || missing.length > 0) throw new InvalidSpecError([...missing, ...issues]);
    const samples = (known.dataset ?? (spec.dataset ? describeDataset(spec.dataset) : undefined))?.samples;
    const memory = trainingMemory(spec, summary, samples);
    const cost: ModelCost = {
      totalParams: summary.totalParams,
      trainableParams: summary.trainableParams,
      flopsPerSample: summary.flopsPerSample,
      trainingFlops: samples !== undefined ? trainingFlops(summary, samples, spec.training.epochs) : null,
      trainingMemoryBytes: memory?.totalBytes ?? null,
    };
    return { prepared, summary, samples, memory, cost, exceeds: checkLimits(prepared, summary, samples, memory, limitsOf(this.d.config)) };
  }

  /** Checks a parsed spec against the data and the limits, fills in model, loss and seed, and queues it. */
  async submit(spec: JobSpec, tenant: string, id: string = randomUUID(), requestId?: string): Promise<JobRecord> {
    const { prepared, cost, exceeds } = await this.preflight(spec, tenant);
    if (exceeds.length > 0) throw new LimitExceededError(exceeds);
    const c = this.d.config;
    const resolved: ResolvedJobSpec = {
      ...prepared,
      training: {
        ...spec.training,
        seed: spec.training.seed ?? randomInt(2 ** 31 - 1),
        maxRuntimeSeconds: spec.training.maxRuntimeSeconds ?? c.MAX_RUNTIME_SECONDS,
      },
    };
    return this.enqueue(resolved, tenant, id, cost, requestId);
  }

  /**
   * Records and queues a spec that has passed every check, within the tenant's job and storage
   * quotas, at the tenant's next turn of the training queue (fair scheduling, see
   * TenantStore.nextTurn). Its inline data goes to the artifact store under the job's prefix
   * first; the record, charged for it, and the queue entry carry only references.
   */
  async enqueue(resolved: ResolvedJobSpec, tenant: string, id: string = randomUUID(), cost?: ModelCost, requestId?: string): Promise<JobRecord> {
    // A job writes a model (and checkpoints) to the artifact store: none starts once the tenant's artifacts fill its quota.
    await this.d.quotas.assertArtifactRoom(tenant);
    const inline = new InlineDataWriter(jobArtifacts(id));
    const spec = await inline.store(resolved);
    const charge = inline.bytes > 0 ? { datasetBytes: inline.bytes, artifactBytes: inline.bytes } : undefined;
    // Early refusals, before anything is stored; the record's creation checks both again, atomically.
    if (charge) await this.d.quotas.assertStorageRoom(tenant, charge);
    await this.d.quotas.assertJobRoom(tenant, (other) => this.d.store.getStatus(other));
    const quotas = await this.d.quotas.limits(tenant);
    try {
      await inline.write(this.d.artifacts);
      const refused = await enqueueTraining(
        { lifecycle: this.d.lifecycle, trainingQueue: this.d.trainingQueue, attempts: this.d.config.JOB_ATTEMPTS, tenants: this.d.quotas.tenants },
        { id, tenant, spec, quotas, ...(cost ? { cost } : {}), ...(requestId ? { requestId } : {}), ...(charge ? { charge } : {}) },
      );
      if (refused) throw this.d.quotas.refusal(refused);
    } catch (err) {
      // Data no record names (and no charge: the record carries it) is removed; a failed job keeps its own.
      if (!(await this.d.store.exists(id).catch(() => true))) await inline.discard(this.d.artifacts).catch(() => undefined);
      throw err;
    }
    // A failover before the record and the queue entry reach a replica would lose a job the client was told is queued.
    await this.d.replicated();
    return { ...(await this.d.store.get(id))!, spec: resolved };
  }

  async get(id: string): Promise<JobRecord> {
    const record = await this.d.store.get(id);
    if (!record) throw new NotFoundError('job', id);
    return this.withData(record);
  }

  /**
   * The record with its inline data read back from the artifact store: the spec as it was posted.
   * Data that is gone while the job is not is a 410 saying so.
   */
  private async withData(record: StoredJobRecord): Promise<JobRecord> {
    try {
      return { ...record, spec: await restoreInlineData(this.d.artifacts, record.spec) };
    } catch (err) {
      if (!(err instanceof InlineDataMissingError)) throw err;
      if (!(await this.d.store.exists(record.id))) throw new NotFoundError('job', record.id);
      throw new GoneError(
        'inline_data_missing',
        `the inline data of job ${record.id} is gone from the artifact store (${err.ref.artifact}); ` +
          'GET /v1/jobs lists the job without it, DELETE removes the job',
      );
    }
  }

  /** Newest first; `tenant` undefined lists every tenant's (admin). */
  async list(query: { status?: JobStatus; experimentId?: string; limit: number; cursor?: string; view: 'slim' | 'full' }, tenant: string | undefined) {
    try {
      const options = { ...query, maxBytes: this.d.config.MAX_LIST_RESPONSE_BYTES, ...(tenant === undefined ? {} : { tenant }) };
      if (query.view !== 'full') return await this.d.store.list({ ...options, view: 'slim' });
      const page = await this.d.store.list({ ...options, view: 'full' });
      const items: JobRecord[] = [];
      for (const record of page.items) {
        try {
          items.push(await this.withData(record));
        } catch (err) {
          // A job deleted since the page was read leaves it.
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
      return { items, next: page.next };
    } catch (err) {
      if (err instanceof InvalidCursorError) throw new BadRequestError('invalid_cursor', 'the cursor is not one this API returned');
      throw err;
    }
  }

  /** Cancels a queued or running job; cancelling a cancelled job again is a no-op. */
  async cancel(id: string): Promise<JobRecord> {
    const result = await this.d.lifecycle.cancel(id);
    if (!result.ok) {
      if (result.previous === undefined) throw new NotFoundError('job', id);
      if (result.previous !== 'cancelled') throw new ConflictError('job_finished', `job ${id} already ${result.previous}`);
    } else if (result.previous === 'queued') {
      // A worker that picks it up anyway sees the status and skips it.
      await this.d.trainingQueue.remove(id).catch(() => 0);
    } else {
      const msg: ControlMessage = { type: 'cancel', jobId: id };
      await this.d.redis.publish(this.d.keys.control, JSON.stringify(msg));
    }
    await this.d.replicated();
    return this.get(id);
  }

  /** Deletes a job with its events and artifacts; a queued or running job is cancelled first. */
  async remove(id: string): Promise<void> {
    const status = await this.d.store.getStatus(id);
    if (!status) throw new NotFoundError('job', id);
    if (status === 'queued' || status === 'running') await this.cancel(id).catch(() => undefined);
    await this.d.store.remove(id);
    await this.d.artifacts.delete(jobArtifacts(id));
  }

  async predict(id: string, inputs: unknown[]): Promise<PredictResult> {
    // The model is all it needs: the inline data stays in the store.
    const record = await this.d.store.get(id);
    if (!record) throw new NotFoundError('job', id);
    if (record.status !== 'completed') {
      throw new ConflictError('job_not_completed', `job ${id} is ${record.status}; predictions need a completed job`);
    }
    const max = this.d.config.MAX_PREDICT_INPUTS;
    if (inputs.length > max) {
      throw new LimitExceededError([{ limit: 'MAX_PREDICT_INPUTS', path: ['inputs'], value: inputs.length, max }]);
    }
    const model = record.spec.model;
    // A model with several inputs takes each row's values flattened, split among its inputs.
    const expected = model.inputShape?.join(',') ?? `${valuesPerSample(model)}`;
    const matches = (shape: number[]) => (model.inputShape ? shape : [elementCount(shape)]).join(',') === expected;
    const bad = inputs
      .map((row, i) => ({ i, shape: sampleShape(row) }))
      .filter(({ shape }) => typeof shape === 'string' || !matches(shape))
      .slice(0, 20)
      .map(({ i, shape }) => ({
        path: ['inputs', i],
        message: `expected numbers of shape [${expected}], got ${typeof shape === 'string' ? shape : `[${shape.join(', ')}]`}`,
      }));
    if (bad.length > 0) throw new BadRequestError('invalid_inputs', 'inputs do not match the model input shape', bad);
    const perSample = predictOutputValues(record.spec.model);
    const maxOutputs = this.d.config.MAX_PREDICT_OUTPUT_VALUES;
    if (perSample !== undefined && inputs.length * perSample > maxOutputs) {
      throw new LimitExceededError([
        {
          limit: 'MAX_PREDICT_OUTPUT_VALUES',
          path: ['inputs'],
          value: inputs.length * perSample,
          max: maxOutputs,
          measure: `output values (${inputs.length} rows x ${perSample})`,
        },
      ]);
    }
    if ((await new WorkerRegistry(this.d.redis, this.d.keys).liveCount()) === 0) {
      throw new UnavailableError('no_worker', 'no worker is running to serve predictions');
    }
    const requestId = randomUUID();
    const data: PredictJobData = { jobId: id, inputs, requestId, replyTo: this.d.predictReplies.key, maxOutputValues: maxOutputs };
    const reply = this.d.predictReplies.wait(requestId, this.d.config.PREDICT_TIMEOUT_MS);
    await this.d.predictQueue.add('predict', data, predictJobOptions);
    const answer = await reply;
    if (!answer) throw new UnavailableError('predict_timeout', 'no worker answered the predict request in time');
    if ('outputs' in answer) return { outputs: answer.outputs };
    const { code, message, details } = answer.error;
    switch (code) {
      case 'invalid_inputs':
        throw new BadRequestError(code, `the model cannot run on these inputs: ${message}`, details);
      case 'output_too_large':
        throw new UnprocessableError('limit_exceeded', message, details);
      case 'model_not_found':
        throw new NotFoundError('model of job', id);
      case 'predict_failed':
        throw new UnavailableError(code, message);
    }
  }

  /** Training queue depth by state, and how long its oldest waiting job has waited (metrics). */
  async queueStats(now = Date.now()): Promise<{ counts: Record<string, number>; oldestWaitSeconds: number }> {
    const counts = await this.d.trainingQueue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
    const [oldest] = await this.d.trainingQueue.getJobs(['waiting', 'prioritized'], 0, 0, true);
    return { counts, oldestWaitSeconds: oldest ? Math.max(0, (now - oldest.timestamp) / 1000) : 0 };
  }

  /** Jobs by status, counted over the job index (metrics). */
  async countByStatus(): Promise<Record<JobStatus, number>> {
    return this.d.store.countByStatus();
  }

  async assertCompleted(id: string): Promise<void> {
    const status = await this.d.store.getStatus(id);
    if (!status) throw new NotFoundError('job', id);
    if (status !== 'completed') throw new ConflictError('job_not_completed', `job ${id} is ${status}; it has no trained model`);
  }
}
