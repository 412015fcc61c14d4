import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { builtinDatasetCatalog, builtinDatasetCatalogSchema } from '../../catalog/index.js';

/**
 * The built-in dataset catalogue. A static path: it wins over the uploaded datasets'
 * `/v1/datasets/:id` in Fastify's router.
 */
export async function builtinDatasetRoutes(app: FastifyInstance): Promise<void> {
  const catalog = builtinDatasetCatalog();
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/datasets/builtin',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Every built-in dataset: options with defaults and ranges, input shape, labels, classes and default loss',
        response: { 200: builtinDatasetCatalogSchema },
      },
    },
    async () => ({ items: catalog }),
  );
}
