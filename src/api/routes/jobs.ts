import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { jobRecordSchema, jobSpecSchema } from '../../spec/index.js';
import { visibleTenant } from '../../shared/access.js';
import {
  errorResponses,
  jobIdParamsSchema,
  jobListSchema,
  listJobsQuerySchema,
  predictBodySchema,
  noContentSchema,
  predictResponseSchema,
} from '../schemas.js';

const errors = errorResponses(400, 404, 409, 422, 503);

export async function jobRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Submit a training job',
        description:
          'With an `Idempotency-Key` header, repeating the request (same key, same body) within 24 h returns the job the ' +
          'first one created, with `Idempotent-Replayed: true`, instead of creating another.',
        headers: z.object({ 'idempotency-key': z.string().min(1).max(255).optional() }),
        body: jobSpecSchema,
        response: { 202: jobRecordSchema, ...errorResponses(410), ...errors },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      if (!key) return reply.code(202).send(await app.jobs.submit(request.body, request.principal.tenant, undefined, request.id));
      const { record, replayed } = await app.jobs.submitIdempotent(request.body, key, request.principal.tenant, request.id);
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(202).send(record);
    },
  );

  r.delete(
    '/v1/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Delete a job: its record, events and trained model (a queued or running job is cancelled first)',
        params: jobIdParamsSchema,
        response: { 204: noContentSchema, ...errors },
      },
    },
    async (request, reply) => {
      await app.jobs.remove(request.params.id);
      return reply.code(204).send();
    },
  );

  r.get(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'List jobs, newest first',
        querystring: listJobsQuerySchema,
        // 410 (view=full): a job's inline data is gone from the artifact store.
        response: { 200: jobListSchema, ...errorResponses(410), ...errors },
      },
    },
    async (request) => app.jobs.list(request.query, visibleTenant(request.principal)),
  );

  r.get(
    '/v1/jobs/:id',
    {
      schema: { tags: ['jobs'], summary: 'A job record', params: jobIdParamsSchema, response: { 200: jobRecordSchema, ...errorResponses(410), ...errors } },
    },
    async (request) => app.jobs.get(request.params.id),
  );

  r.post(
    '/v1/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a queued or running job',
        params: jobIdParamsSchema,
        response: { 200: jobRecordSchema, ...errorResponses(410), ...errors },
      },
    },
    async (request) => app.jobs.cancel(request.params.id),
  );

  r.post(
    '/v1/jobs/:id/predict',
    {
      schema: {
        tags: ['jobs'],
        summary: "Run a completed job's model on inputs",
        params: jobIdParamsSchema,
        body: predictBodySchema,
        response: { 200: predictResponseSchema, ...errors },
      },
    },
    async (request) => app.jobs.predict(request.params.id, request.body.inputs),
  );
}
