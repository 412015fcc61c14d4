import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { jobRecordSchema, jobSpecSchema } from '../../spec/index.js';
import {
  errorResponseSchema,
  jobIdParamsSchema,
  jobListSchema,
  listJobsQuerySchema,
  predictBodySchema,
  predictResponseSchema,
} from '../schemas.js';

const errors = { 400: errorResponseSchema, 404: errorResponseSchema, 409: errorResponseSchema, 422: errorResponseSchema, 503: errorResponseSchema };

export async function jobRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Submit a training job',
        body: jobSpecSchema,
        response: { 202: jobRecordSchema, ...errors },
      },
    },
    async (request, reply) => reply.code(202).send(await app.jobs.submit(request.body)),
  );

  r.get(
    '/v1/jobs',
    {
      schema: { tags: ['jobs'], summary: 'List jobs, newest first', querystring: listJobsQuerySchema, response: { 200: jobListSchema, ...errors } },
    },
    async (request) => app.jobs.list(request.query),
  );

  r.get(
    '/v1/jobs/:id',
    { schema: { tags: ['jobs'], summary: 'A job record', params: jobIdParamsSchema, response: { 200: jobRecordSchema, ...errors } } },
    async (request) => app.jobs.get(request.params.id),
  );

  r.post(
    '/v1/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a queued or running job',
        params: jobIdParamsSchema,
        response: { 200: jobRecordSchema, ...errors },
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
