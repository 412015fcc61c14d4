import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BUILTIN_DATASET_NAMES, lossSchema } from '../../spec/index.js';
import { builtinDatasetCatalog } from '../../catalog/index.js';
import { optionInfoSchema } from '../schemas.js';

const builtinDatasetInfoSchema = z
  .object({
    name: z.enum(BUILTIN_DATASET_NAMES),
    description: z.string(),
    kind: z.enum(['synthetic', 'real', 'sequence']).describe('synthetic: generated from a seed; real: measured data; sequence: windows of a series, for RNNs.'),
    source: z.string().optional().describe('Where real data comes from.'),
    task: z.enum(['binary', 'classification', 'regression']),
    options: z.array(optionInfoSchema).describe('Options the dataset takes, with defaults and valid ranges.'),
    samples: z.number().int().describe('Samples with the default options.'),
    maxSamples: z.number().int().optional().describe('Real data: how many samples exist.'),
    inputShape: z.array(z.number().int()).describe('Shape of one input sample, with the default options (the model inputShape).'),
    targetShape: z.array(z.number().int()).describe('Shape of one target, with the default options.'),
    labels: z.enum(['binary', 'onehot', 'index', 'regression']).describe('Kind of targets, with the default options.'),
    classes: z.number().int().optional(),
    defaultLoss: lossSchema.describe('The loss a job on this dataset gets when its spec names none.'),
  })
  .meta({ id: 'BuiltinDatasetInfo' });

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
        response: { 200: z.object({ items: z.array(builtinDatasetInfoSchema) }) },
      },
    },
    async () => ({ items: catalog }),
  );
}
