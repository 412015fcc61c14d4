import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { optimizerCatalog, optimizerCatalogSchema } from '../../catalog/index.js';

export async function optimizerRoutes(app: FastifyInstance): Promise<void> {
  const catalog = optimizerCatalog();
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/optimizers',
    {
      schema: {
        tags: ['optimizers'],
        summary: 'Every optimizer: parameters, defaults, valid ranges, update rule and when to use it',
        response: { 200: optimizerCatalogSchema },
      },
    },
    async () => ({ items: catalog }),
  );
}
