import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/config.js';
import { DatasetStore } from '../../store/dataset-store.js';
import { JobLifecycle } from '../../store/job-lifecycle.js';
import { JobStore } from '../../store/job-store.js';
import { redisKeys } from '../../store/keys.js';
import { createPredictQueue, createTrainingQueue } from '../../queue/queues.js';
import { createBlockingRedis, createRedis, waitForReplicas } from '../../store/redis.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import { artifactStoreSettings, openArtifactStore } from '../../storage/open-artifact-store.js';
import { ApiKeyStore } from '../../store/api-key-store.js';
import { SessionStore } from '../../store/session-store.js';
import { TenantStore } from '../../store/tenant-store.js';
import { DatasetsService } from '../services/datasets-service.js';
import { QuotaService } from '../services/quota-service.js';
import { EventHub } from '../services/event-hub.js';
import { EventsService } from '../services/events-service.js';
import { PredictReplies } from '../services/predict-replies.js';
import { JobsService } from '../services/jobs-service.js';
import { ExperimentsService } from '../services/experiments-service.js';
import { ExperimentStore } from '../../store/experiment-store.js';
import { ExperimentController } from '../../queue/experiment-controller.js';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    /** Every Redis connection of this process, for telling an outage from a fault (error handler). */
    redisConnections: readonly Redis[];
    jobs: JobsService;
    experiments: ExperimentsService;
    events: EventsService;
    datasets: DatasetsService;
    artifacts: ArtifactStore;
    apiKeys: ApiKeyStore;
    sessions: SessionStore;
    quotas: QuotaService;
  }
}

/**
 * Redis connections, queues and the services built on them, closed again `onClose`.
 * Connections are opened here once per API process and shared by every request.
 */
async function infrastructure(app: FastifyInstance, opts: { config: Config }) {
  const { config } = opts;
  const keys = redisKeys(config.REDIS_PREFIX);
  // Requests fail fast (503) while Redis is unreachable instead of queueing behind a reconnect;
  // the connections reconnect by themselves.
  const redis = createRedis(config, { enableOfflineQueue: false });
  const bull = createRedis(config, { enableOfflineQueue: false });
  const store = new JobStore(redis, keys, config.EVENT_STREAM_MAXLEN);
  const trainingQueue = createTrainingQueue(bull, keys);
  const predictQueue = createPredictQueue(bull, keys);
  const repliesConnection = createBlockingRedis(config);
  const predictReplies = new PredictReplies(repliesConnection, keys);
  const onQueueError = (err: Error) => app.log.debug({ err: err.message }, 'queue error');
  trainingQueue.on('error', onQueueError);
  predictQueue.on('error', onQueueError);

  app.decorate('redis', redis);
  app.decorate('redisConnections', [redis, bull, repliesConnection]);
  const artifacts = openArtifactStore(artifactStoreSettings(config));
  app.decorate('artifacts', artifacts);
  const datasets = new DatasetStore(redis, keys);
  // Before a client hears "accepted", its writes (on both connections) reach REDIS_WAIT_REPLICAS replicas.
  const replicated = async () => {
    const acked = await waitForReplicas([redis, bull], config.REDIS_WAIT_REPLICAS, config.REDIS_WAIT_TIMEOUT_MS);
    if (acked < config.REDIS_WAIT_REPLICAS) {
      app.log.warn({ acked, wanted: config.REDIS_WAIT_REPLICAS }, 'writes reached fewer replicas than REDIS_WAIT_REPLICAS within REDIS_WAIT_TIMEOUT_MS');
    }
  };
  const quotas = new QuotaService(config, new TenantStore(redis, keys));
  app.decorate('quotas', quotas);
  app.decorate('apiKeys', new ApiKeyStore(redis, keys));
  app.decorate('sessions', new SessionStore(redis, keys));
  app.owners.job = (id) => store.tenantOf(id);
  app.owners.dataset = async (id) => (await datasets.getOwned(id))?.tenant;
  const lifecycle = new JobLifecycle(store);
  const jobs = new JobsService({ config, redis, keys, store, lifecycle, datasets, trainingQueue, predictQueue, predictReplies, artifacts, replicated, quotas });
  app.decorate('jobs', jobs);
  const datasetsService = new DatasetsService({ config, store: datasets, artifacts, replicated, quotas });
  app.decorate('datasets', datasetsService);
  const hub = new EventHub(redis, keys);
  const events = new EventsService(store, hub, config.SSE_HEARTBEAT_MS);
  app.decorate('events', events);
  const experimentStore = new ExperimentStore(redis, keys);
  app.owners.experiment = (id) => experimentStore.tenantOf(id);
  const controller = new ExperimentController({
    jobs: store,
    lifecycle,
    experiments: experimentStore,
    trainingQueue,
    attempts: config.JOB_ATTEMPTS,
    tenants: quotas.tenants,
    quotaDefaults: quotas.defaults(),
  });
  app.decorate(
    'experiments',
    new ExperimentsService({ config, artifacts, store: experimentStore, jobStore: store, jobs, events, controller, quotas, replicated }),
  );

  app.addHook('onReady', async () => {
    await Promise.all([redis, bull].map((c) => waitReady(c, config.REDIS_CONNECT_TIMEOUT_MS)));
    datasetsService.sweepTempFiles().catch((err: unknown) => app.log.warn({ err }, 'could not sweep upload temp files'));
  });

  app.addHook('onClose', async () => {
    const results = await Promise.allSettled([trainingQueue.close(), predictQueue.close(), predictReplies.close(), hub.close()]);
    for (const r of results) if (r.status === 'rejected') app.log.warn({ err: r.reason }, 'close failed');
    redis.disconnect();
    bull.disconnect();
    repliesConnection.disconnect();
  });
}

export default fp(infrastructure, { name: 'infrastructure', dependencies: ['access'] });

/** Resolves once the connection is ready, or after `ms` (requests then answer 503 until it is). */
function waitReady(redis: Redis, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    redis.once('ready', done);
    function done() {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    }
  });
}
