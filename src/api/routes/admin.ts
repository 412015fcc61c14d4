import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { scopeSchema, tenantSchema } from '../../shared/access.js';
import { NotFoundError } from '../../shared/errors.js';
import { apiKeyInfoSchema } from '../../store/api-key-store.js';
import { quotasSchema } from '../../store/tenant-store.js';
import { tenantViewSchema } from '../services/quota-service.js';
import { errorResponses, noContentSchema } from '../schemas.js';

const errors = errorResponses(400, 404, 503);
const createKeySchema = z.object({ tenant: tenantSchema, scope: scopeSchema, name: z.string().max(200).optional() });
const createdKeySchema = apiKeyInfoSchema.extend({ key: z.string().describe('The key itself: shown this once, stored only as a hash.') });
const patch = (schema: z.ZodNumber) => schema.nullable().optional();
const quotaPatchSchema = z
  .object({
    activeJobs: patch(quotasSchema.shape.activeJobs),
    datasetBytes: patch(quotasSchema.shape.datasetBytes),
    artifactBytes: patch(quotasSchema.shape.artifactBytes),
    experiments: patch(quotasSchema.shape.experiments),
  })
  .strict()
  .describe('Quotas to set; null puts one back to the configured default.');

/** Keys and quotas: admin scope only (every route under /v1/admin), and the caller's own tenant. */
export async function adminRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    '/v1/admin/keys',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create an API key (its secret is in this response only)',
        body: createKeySchema,
        response: { 201: createdKeySchema, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await app.apiKeys.create(request.body)),
  );

  r.get(
    '/v1/admin/keys',
    {
      schema: { tags: ['admin'], summary: 'List API keys (never their secrets)', response: { 200: z.object({ items: z.array(apiKeyInfoSchema) }), ...errors } },
    },
    async () => ({ items: await app.apiKeys.list() }),
  );

  r.delete(
    '/v1/admin/keys/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Revoke an API key, at once',
        params: z.object({ id: z.string().max(64) }),
        response: { 204: noContentSchema, ...errors },
      },
    },
    async (request, reply) => {
      if (!(await app.apiKeys.revoke(request.params.id))) throw new NotFoundError('API key', request.params.id);
      return reply.code(204).send();
    },
  );

  r.get(
    '/v1/admin/tenants',
    {
      schema: {
        tags: ['admin'],
        summary: 'Every tenant with its quotas and usage',
        response: { 200: z.object({ items: z.array(tenantViewSchema) }), ...errors },
      },
    },
    async () => ({ items: await Promise.all((await app.quotas.tenants.list()).map((t) => app.quotas.view(t))) }),
  );

  r.get(
    '/v1/admin/tenants/:tenant',
    {
      schema: {
        tags: ['admin'],
        summary: "A tenant's quotas and usage",
        params: z.object({ tenant: tenantSchema }),
        response: { 200: tenantViewSchema, ...errors },
      },
    },
    async (request) => app.quotas.view(request.params.tenant),
  );

  r.patch(
    '/v1/admin/tenants/:tenant/quotas',
    {
      schema: {
        tags: ['admin'],
        summary: "Set a tenant's quotas (null: back to the default)",
        params: z.object({ tenant: tenantSchema }),
        body: quotaPatchSchema,
        response: { 200: tenantViewSchema, ...errors },
      },
    },
    async (request) => {
      await app.quotas.tenants.setQuotas(request.params.tenant, request.body);
      return app.quotas.view(request.params.tenant);
    },
  );

  r.get(
    '/v1/tenant',
    { schema: { tags: ['admin'], summary: "The caller's tenant: its quotas and usage", response: { 200: tenantViewSchema, ...errors } } },
    async (request) => app.quotas.view(request.principal.tenant),
  );
}
