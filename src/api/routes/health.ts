import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { redisKeys } from '../../store/keys.js';
import { type WorkerInfo, WorkerRegistry, workerInfoSchema } from '../../store/worker-registry.js';
import { backendNameSchema } from '../../spec/index.js';
import { DESCENT_VERSION } from '../../shared/versions.js';
import { UnavailableError } from '../../shared/errors.js';
import type { Config } from '../../config/config.js';
import { errorResponses } from '../schemas.js';

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
  app.withTypeProvider<ZodTypeProvider>().get(
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
}
