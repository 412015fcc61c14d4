import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { AggregatorRegistry, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../../config/config.js';
import { redisKeys } from '../../store/keys.js';
import { WorkerRegistry } from '../../store/worker-registry.js';
import { JOB_STATUSES } from '../../spec/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Prometheus text of this API process's metrics and the live workers' (summed). */
    metricsText(): Promise<{ contentType: string; body: string }>;
  }
}

/**
 * Prometheus metrics (prom-client): HTTP latency by route and status, measured here; jobs by
 * status, queue depth and wait, live workers, SSE clients and Redis reachability, read when
 * scraped; and the workers' own metrics (epochs, process memory), which they publish to Redis
 * with their heartbeat and which are summed here.
 */
async function metrics(app: FastifyInstance, opts: { config: Config }) {
  const keys = redisKeys(opts.config.REDIS_PREFIX);
  const registry = new Registry();
  const connected = app.hasDecorator('redis');

  const latency = new Histogram({
    name: 'descent_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    // Unmatched paths share one label, so scanners cannot grow the series without bound.
    const route = request.routeOptions.url ?? 'unmatched';
    latency.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  // Scrape-time readings. Redis is pinged first; while it is down the readings that need it are
  // skipped (BullMQ would wait for the connection), so an outage reads as descent_redis_up 0
  // instead of a failed scrape.
  let redisUp = false;
  const guarded = async (fn: () => Promise<void>) => {
    if (redisUp) await fn().catch(() => undefined);
  };
  const up = new Gauge({ name: 'descent_redis_up', help: '1 when Redis answered a PING from this API process.', registers: [registry] });
  if (connected) {
    const workers = new WorkerRegistry(app.redis, keys);
    new Gauge({
      name: 'descent_jobs',
      help: 'Jobs by status.',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        await guarded(async () => {
          const counts = await app.jobs.countByStatus();
          for (const s of JOB_STATUSES) this.set({ status: s }, counts[s]);
        });
      },
    });
    const depth = new Gauge({ name: 'descent_queue_jobs', help: 'Training queue jobs by state (BullMQ).', labelNames: ['state'], registers: [registry] });
    new Gauge({
      name: 'descent_queue_oldest_wait_seconds',
      help: 'How long the oldest waiting training job has waited (0: none waits).',
      registers: [registry],
      async collect() {
        await guarded(async () => {
          const stats = await app.jobs.queueStats();
          for (const [state, n] of Object.entries(stats.counts)) depth.set({ state }, n);
          this.set(stats.oldestWaitSeconds);
        });
      },
    });
    new Gauge({
      name: 'descent_workers_live',
      help: 'Workers with a recent heartbeat.',
      registers: [registry],
      async collect() {
        await guarded(async () => this.set(await workers.liveCount()));
      },
    });
    new Gauge({
      name: 'descent_sse_clients',
      help: 'Event streams open on this API process.',
      registers: [registry],
      collect() {
        this.set(app.events.live.streams);
      },
    });
  }

  /** The live workers' published snapshots, summed across workers. */
  async function workerMetrics(): Promise<Registry | undefined> {
    if (!connected) return undefined;
    try {
      const ids = (await new WorkerRegistry(app.redis, keys).live()).map((w) => w.id);
      const raw = ids.length > 0 ? await app.redis.mget(ids.map((id) => keys.workerMetrics(id))) : [];
      const snapshots = raw.flatMap((r) => (r ? [JSON.parse(r) as object[]] : []));
      return snapshots.length > 0 ? AggregatorRegistry.aggregate(snapshots) : undefined;
    } catch {
      return undefined;
    }
  }

  app.decorate('metricsText', async () => {
    redisUp =
      connected &&
      (await app.redis.ping().then(
        () => true,
        () => false,
      ));
    up.set(redisUp ? 1 : 0);
    const fromWorkers = redisUp ? await workerMetrics() : undefined;
    const merged = fromWorkers ? Registry.merge([registry, fromWorkers]) : registry;
    return { contentType: registry.contentType, body: await merged.metrics() };
  });
}

export default fp(metrics, { name: 'metrics' });
