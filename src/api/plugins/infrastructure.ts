import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/config.js';
import { JobStore } from '../../queue/job-store.js';
import { redisKeys } from '../../queue/keys.js';
import { createPredictEvents, createPredictQueue, createTrainingQueue } from '../../queue/queues.js';
import { createBlockingRedis, createRedis } from '../../queue/redis.js';
import { LocalArtifactStore, type ArtifactStore } from '../../storage/artifact-store.js';
import { EventsService } from '../services/events-service.js';
import { JobsService } from '../services/jobs-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    jobs: JobsService;
    events: EventsService;
    artifacts: ArtifactStore;
  }
}

/**
 * Redis connections, queues and the services built on them, closed again `onClose`.
 * Connections are opened here once per API process and shared by every request.
 */
async function infrastructure(app: FastifyInstance, opts: { config: Config }) {
  const { config } = opts;
  const keys = redisKeys(config.REDIS_PREFIX);
  const redis = createRedis(config.REDIS_URL);
  const bull = createBlockingRedis(config.REDIS_URL);
  const store = new JobStore(redis, keys, config.EVENT_STREAM_MAXLEN);
  const trainingQueue = createTrainingQueue(bull, keys);
  const predictQueue = createPredictQueue(bull, keys);
  const eventsConnection = createBlockingRedis(config.REDIS_URL);
  const predictEvents = createPredictEvents(eventsConnection, keys);
  const onQueueError = (err: Error) => app.log.debug({ err: err.message }, 'queue error');
  trainingQueue.on('error', onQueueError);
  predictQueue.on('error', onQueueError);
  predictEvents.on('error', onQueueError);

  app.decorate('redis', redis);
  app.decorate('artifacts', new LocalArtifactStore(config.DATA_DIR));
  app.decorate('jobs', new JobsService({ config, redis, keys, store, trainingQueue, predictQueue, predictEvents }));
  app.decorate('events', new EventsService(store, redis, config.SSE_HEARTBEAT_MS));

  app.addHook('onClose', async () => {
    const results = await Promise.allSettled([trainingQueue.close(), predictQueue.close(), predictEvents.close()]);
    for (const r of results) if (r.status === 'rejected') app.log.warn({ err: r.reason }, 'close failed');
    redis.disconnect();
    bull.disconnect();
    eventsConnection.disconnect();
  });
}

export default fp(infrastructure, { name: 'infrastructure' });
