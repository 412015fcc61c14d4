import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import { applyNativeEnvironment, type Config } from '../src/config/config.js';
import { JobStore } from '../src/store/job-store.js';
import { ExperimentStore } from '../src/store/experiment-store.js';
import { DatasetStore } from '../src/store/dataset-store.js';
import { TenantStore, quotaDefaults } from '../src/store/tenant-store.js';
import { trainingBytes } from '../src/storage/artifact-sizes.js';
import { JobLifecycle } from '../src/store/job-lifecycle.js';
import { ExperimentController } from '../src/queue/experiment-controller.js';
import { createTrainingQueue } from '../src/queue/queues.js';
import { PREDICT_QUEUE, TRAINING_QUEUE, redisKeys } from '../src/store/keys.js';
import { WorkerRegistry } from '../src/store/worker-registry.js';
import type { ControlMessage, PredictJobData, TrainingJobData } from '../src/queue/queues.js';
import { assertNoEviction, createBlockingRedis, createRedis } from '../src/store/redis.js';
import type { Logger } from '../src/shared/logger.js';
import { DESCENT_VERSION } from '../src/shared/versions.js';
import { artifactStoreSettings, openArtifactStore } from '../src/storage/open-artifact-store.js';
import { initBackend, type BackendInfo } from '../src/training/backend.js';
import { graphAvailability } from '../src/training/engine.js';
import { writeHeartbeatNote } from './heartbeat-note.js';
import { PredictRunner } from './predict-runner.js';
import { WorkerMetrics } from './worker-metrics.js';
import { ownerRecords, scheduleRetention, sweepFinishedJobs, sweepOrphanedArtifacts } from './retention.js';
import { JobStartError, type TrainingOutcome, TrainingRunner } from './training-runner.js';

export interface RunningWorker {
  id: string;
  backend: BackendInfo;
  /** Ids of the jobs this worker is training right now. */
  activeJobs(): string[];
  trainingPid(jobId: string): number | undefined;
  close(): Promise<void>;
}

const HEARTBEAT_MS = 5_000;

/** Starts one worker: training and predict consumers, a cancel listener and a heartbeat. */
export async function startWorker(config: Config, logger: Logger): Promise<RunningWorker> {
  const id = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const log = logger.child({ worker: id });
  applyNativeEnvironment(config);
  const backend = await initBackend(config.TFJS_BACKEND);
  if (backend.fallbackReason) log.warn({ reason: backend.fallbackReason }, 'native TensorFlow unavailable; using the cpu backend');
  const graph = graphAvailability();
  log.info({ backend: backend.backend, graphEngine: graph.available, ...(graph.reason ? { graphEngineReason: graph.reason } : {}) }, 'tfjs backend ready');
  const graphEngine = { available: graph.available, ...(graph.reason ? { reason: graph.reason } : {}) };

  const keys = redisKeys(config.REDIS_PREFIX);
  const redis = createRedis(config);
  try {
    await assertNoEviction(redis);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const bullConnection = createBlockingRedis(config);
  const subscriber = createBlockingRedis(config);
  const store = new JobStore(redis, keys, config.EVENT_STREAM_MAXLEN);
  // Models read for training are cached on this host's disk when the store is remote.
  const artifacts = openArtifactStore(artifactStoreSettings(config), { cache: true });
  // Trials are queued from workers too (the next one when one ends), on a connection of their own.
  const queueConnection = createRedis(config);
  const trainingQueue = createTrainingQueue(queueConnection, keys);
  trainingQueue.on('error', (err) => log.debug({ err: err.message }, 'queue error'));
  const lifecycle = new JobLifecycle(store);
  const experimentStore = new ExperimentStore(redis, keys);
  const experiments = new ExperimentController({
    jobs: store,
    lifecycle,
    experiments: experimentStore,
    trainingQueue,
    attempts: config.JOB_ATTEMPTS,
    tenants: new TenantStore(redis, keys),
    quotaDefaults: quotaDefaults(config),
  });
  const predict = new PredictRunner(config, redis, log);
  const metrics = new WorkerMetrics(() => ({ training: training.activeJobs.map((j) => training.trainingPid(j)), predict: predict.pid }));
  const training = new TrainingRunner(store, keys, artifacts, config, log, id, experiments, (report, spec) => metrics.epoch(report, spec));
  training.warmUp();
  predict.warmUp();

  const trainingWorker = new Worker<TrainingJobData, TrainingOutcome>(TRAINING_QUEUE, training.process, {
    connection: bullConnection,
    prefix: keys.bull,
    concurrency: config.WORKER_CONCURRENCY,
    // The lock is renewed from this (idle) process while a child trains; when this process
    // dies, another worker picks the job up within about lockDuration + stalledInterval.
    lockDuration: config.LOCK_DURATION_MS,
    stalledInterval: config.STALLED_INTERVAL_MS,
    maxStalledCount: config.JOB_ATTEMPTS,
  });
  const predictWorker = new Worker<PredictJobData, void>(PREDICT_QUEUE, predict.process, {
    connection: bullConnection,
    prefix: keys.bull,
    concurrency: 4,
  });
  for (const w of [trainingWorker, predictWorker]) w.on('error', (err) => log.error({ err }, 'worker error'));
  // BullMQ gave up on a job for good (attempts or stalls ran out) that no run could end itself:
  // Redis lost mid-training on its last attempt (the record still says running), a start that
  // failed on every attempt (still queued), so end it, and its stream, too. A job the runner
  // already ended is neither queued nor running, and this is a no-op. A trial's experiment hears
  // of it at once (else at its next sweep).
  trainingWorker.on('failed', (job, err) => {
    if (!job) return;
    const { jobId, experimentId } = job.data;
    job
      .isFailed()
      .then(async (final) => {
        if (!final) return;
        await lifecycle.abandon(
          jobId,
          err instanceof JobStartError
            ? { code: 'start_failed', message: err.message }
            : { code: 'worker_crashed', message: `the job could not be run: ${err.message}` },
        );
        // What a run that died unmeasured left in the store (checkpoints) counts until the job is deleted.
        await store.settleTrained(jobId, await trainingBytes(artifacts, jobId));
        if (experimentId) await experiments.reconcile(experimentId, { waitMs: 5_000 });
      })
      .catch((e: unknown) => log.warn({ err: e, jobId }, 'could not record that the job failed'));
  });

  await subscriber.subscribe(keys.control);
  subscriber.on('message', (_channel, raw: string) => {
    const msg = JSON.parse(raw) as ControlMessage;
    if (msg.type === 'cancel') training.cancel(msg.jobId);
  });

  const registry = new WorkerRegistry(redis, keys);
  const beat = async () => {
    const at = Date.now();
    await registry.beat({ id, host: hostname(), pid: process.pid, backend: backend.backend, graphEngine, version: DESCENT_VERSION, at });
    if (config.WORKER_HEARTBEAT_FILE) await writeHeartbeatNote(config.WORKER_HEARTBEAT_FILE, { id, at });
    await metrics.publish(redis, keys, id);
  };
  const stopRetention = scheduleRetention(
    redis,
    keys,
    async () => {
      await sweepFinishedJobs(store, artifacts, { maxAgeMs: config.JOB_RETENTION_HOURS * 3_600_000, maxCount: config.JOB_RETENTION_COUNT });
      const records = ownerRecords({ jobs: store, experiments: experimentStore, datasets: new DatasetStore(redis, keys) });
      const orphans = await sweepOrphanedArtifacts(artifacts, records, config.ORPHAN_GRACE_MINUTES * 60_000);
      if (orphans.length > 0) log.info({ orphans }, 'deleted artifacts no record owns');
    },
    60_000,
    (err) => log.warn({ err }, 'retention sweep failed'),
  );
  const sweep = setInterval(
    () => experiments.reconcileActive().catch((err: unknown) => log.warn({ err }, 'experiment sweep failed')),
    config.EXPERIMENT_SWEEP_MS,
  );
  await beat();
  const heartbeat = setInterval(() => beat().catch((err: unknown) => log.warn({ err }, 'heartbeat failed')), HEARTBEAT_MS);
  await Promise.all([trainingWorker.waitUntilReady(), predictWorker.waitUntilReady()]);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(heartbeat);
      clearInterval(sweep);
      stopRetention();
      // Each step runs even when an earlier one fails.
      const steps: [string, () => Promise<unknown>][] = [
        ['stop training', async () => training.stopAll(config.SHUTDOWN_TIMEOUT_MS)],
        ['close training worker', () => withTimeout(trainingWorker.close(), config.SHUTDOWN_TIMEOUT_MS)],
        ['close predict worker', () => withTimeout(predictWorker.close(), config.SHUTDOWN_TIMEOUT_MS)],
        ['finish experiment reconciles', () => withTimeout(experiments.settled(), config.SHUTDOWN_TIMEOUT_MS)],
        ['deregister', () => registry.deregister(id)],
        ['close subscriber', () => subscriber.quit()],
        ['close training queue', () => trainingQueue.close()],
        ['close connections', async () => (await Promise.allSettled([redis.quit(), bullConnection.quit(), queueConnection.quit()]), undefined)],
        ['free models', async () => predict.close()],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (err) {
          log.warn({ err, step: name }, 'shutdown step failed');
        }
      }
      log.info('worker stopped');
    })());

  return { id, backend, activeJobs: () => training.activeJobs, trainingPid: (jobId) => training.trainingPid(jobId), close };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
