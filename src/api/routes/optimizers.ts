import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OPTIMIZER_NAMES } from '../../spec/index.js';
import { optimizerCatalog } from '../../catalog/index.js';
import { optionInfoSchema } from '../schemas.js';

const optimizerInfoSchema = z
  .object({
    name: z.enum(OPTIMIZER_NAMES as [string, ...string[]]),
    title: z.string(),
    rule: z.string().describe('The update rule in LaTeX.'),
    when: z.string().describe('When to use it, in one sentence.'),
    reference: z.string().describe('The PyTorch equivalent.'),
    weightDecay: z.enum(['coupled', 'decoupled']),
    parameters: z.array(optionInfoSchema),
  })
  .meta({ id: 'OptimizerInfo' });

export async function optimizerRoutes(app: FastifyInstance): Promise<void> {
  const catalog = optimizerCatalog();
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/optimizers',
    {
      schema: {
        tags: ['optimizers'],
        summary: 'Every optimizer: parameters, defaults, valid ranges, update rule and when to use it',
        response: { 200: z.object({ items: z.array(optimizerInfoSchema) }) },
      },
    },
    async () => ({ items: catalog }),
  );
}
