import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { redisKeys } from '../../store/keys.js';
import { type WorkerInfo, WorkerRegistry } from '../../store/worker-registry.js';
import { DESCENT_VERSION } from '../../shared/versions.js';
import { UnavailableError } from '../../shared/errors.js';
import type { Config } from '../../config/config.js';
import { errorResponseSchema, healthSchema } from '../schemas.js';

export async function healthRoutes(app: FastifyInstance, opts: { config: Config }): Promise<void> {
  const registry = new WorkerRegistry(app.redis, redisKeys(opts.config.REDIS_PREFIX));
  app.withTypeProvider<ZodTypeProvider>().get(
    '/healthz',
    { schema: { tags: ['health'], summary: 'Ready to take jobs', response: { 200: healthSchema, 503: errorResponseSchema } } },
    async () => {
      let workers: WorkerInfo[];
      try {
        workers = await registry.live();
      } catch {
        throw new UnavailableError('redis_unavailable', 'Redis is unreachable');
      }
      const counts = new Map<string, number>();
      for (const w of workers) counts.set(w.backend, (counts.get(w.backend) ?? 0) + 1);
      const backend = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
      const reason = workers.find((w) => !w.graphEngine?.available)?.graphEngine?.reason;
      return {
        status: 'ok' as const,
        backend: backend as 'tensorflow' | 'cpu' | 'wasm' | null,
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
