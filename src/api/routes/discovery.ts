import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * Where a newcomer starts: the OpenAPI document as JSON and YAML, and an API reference at
 * /docs whose assets the API serves itself (it works with no internet).
 */
export async function discoveryRoutes(app: FastifyInstance): Promise<void> {
  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => reply.type('application/json').send(JSON.stringify(app.swagger())));
  app.get('/openapi.yaml', { schema: { hide: true } }, async (_request, reply) => reply.type('application/yaml').send(app.swagger({ yaml: true })));
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // No validator badge: it would fetch from the internet.
    uiConfig: { validatorUrl: null, deepLinking: true, defaultModelsExpandDepth: 0 },
    staticCSP: true,
  });
}
