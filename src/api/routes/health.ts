import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { redisKeys } from '../../store/keys.js';
import { type WorkerInfo, WorkerRegistry, workerInfoSchema } from '../../store/worker-registry.js';
import { backendNameSchema } from '../../spec/index.js';
import { DESCENT_VERSION } from '../../shared/versions.js';
import { UnavailableError } from '../../shared/errors.js';
import type { Config } from '../../config/config.js';
import { errorResponses, readySchema } from '../schemas.js';

export const healthSchema = z
  .object({
    status: z.literal('ok'),
    backend: backendNameSchema.nullable().describe('Training backend of most live workers (null: no worker is live).'),
    graphEngine: z
      .object({
        available: z.boolean().describe('Some live worker can train on the graph engine (`training.engine` `graph`; what `auto` prefers).'),
        reason: z.string().optional().describe('Why a live worker cannot, when one cannot.'),
      })
      .describe('The graph training engine across the live workers.'),
    workers: z.array(workerInfoSchema.pick({ id: true, backend: true, host: true, pid: true }).extend({ graphEngine: z.boolean() })),
    version: z.string(),
  })
  .meta({ id: 'Health' });
export type Health = z.infer<typeof healthSchema>;

export async function healthRoutes(app: FastifyInstance, opts: { config: Config }): Promise<void> {
  const registry = new WorkerRegistry(app.redis, redisKeys(opts.config.REDIS_PREFIX));
  app
    .withTypeProvider<ZodTypeProvider>()
    .get(
      '/healthz',
      { schema: { tags: ['health'], summary: 'Ready to take jobs', response: { 200: healthSchema, ...errorResponses(503) } } },
      async (): Promise<Health> => {
        let workers: WorkerInfo[];
        try {
          workers = await registry.live();
        } catch (err) {
          throw new UnavailableError('redis_unavailable', 'Redis is unreachable', { cause: err });
        }
        const counts = new Map<WorkerInfo['backend'], number>();
        for (const w of workers) counts.set(w.backend, (counts.get(w.backend) ?? 0) + 1);
        const backend = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
        const reason = workers.find((w) => !w.graphEngine?.available)?.graphEngine?.reason;
        return {
          status: 'ok',
          backend,
          graphEngine: {
            available: workers.some((w) => w.graphEngine?.available),
            ...(reason ? { reason } : workers.length === 0 ? { reason: 'no live workers' } : {}),
          },
          workers: workers.map(({ id, backend, graphEngine, host, pid }) => ({ id, backend, graphEngine: graphEngine?.available ?? false, host, pid })),
          version: DESCENT_VERSION,
        };
      },
    );

  app.withTypeProvider<ZodTypeProvider>().get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Ready to serve: Redis answers and at least one worker is live (503 otherwise)',
        description: 'For load balancers and orchestrators; `/healthz` stays the liveness check of this process.',
        response: { 200: readySchema, ...errorResponses(503) },
      },
    },
    async () => {
      let workers: number;
      try {
        workers = await registry.liveCount();
      } catch {
        throw new UnavailableError('redis_unavailable', 'Redis is unreachable');
      }
      if (workers === 0) throw new UnavailableError('no_worker', 'no worker is live: jobs would queue and predictions would time out');
      return { status: 'ready' as const, workers };
    },
  );

  app.withTypeProvider<ZodTypeProvider>().get(
    '/metrics',
    {
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics (text exposition format)',
        description:
          'HTTP latency by route and status, jobs by status, training queue depth and oldest wait, live workers, SSE clients, ' +
          "Redis reachability, and the live workers' epoch durations, samples per second and process memory.",
        produces: ['text/plain'],
        response: { 200: z.string().describe('Prometheus text format 0.0.4.') },
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await app.metricsText();
      return reply.type(contentType).send(body);
    },
  );
}
