import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotFoundError } from '../../shared/errors.js';
import { modelKeys } from '../../storage/artifact-keys.js';
import { type ErrorResponse, errorResponses, jobIdParamsSchema } from '../schemas.js';

const errors = errorResponses(404, 409, 503);
const modelJsonSchema = z
  .object({ format: z.string(), modelTopology: z.unknown(), weightsManifest: z.array(z.object({ paths: z.array(z.string()), weights: z.array(z.unknown()) })) })
  .passthrough()
  .describe('A tfjs layers model.json.');
const weightsSchema = z.string().meta({ format: 'binary' });

/**
 * The trained model as a tfjs layers model. `GET /v1/jobs/:id/model` serves model.json with its
 * weights at `model/weights.bin`, which tfjs resolves against that URL, so
 * `tf.loadLayersModel('http://host/v1/jobs/ID/model')` works as it is.
 */
export async function modelRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  const modelJson = async (id: string, weightsPrefix: string) => {
    await app.jobs.assertCompleted(id);
    const raw = await app.artifacts.get(modelKeys(id).topology);
    if (!raw) throw new NotFoundError('model of job', id);
    const json = JSON.parse(raw.toString('utf8')) as z.infer<typeof modelJsonSchema>;
    for (const group of json.weightsManifest) group.paths = group.paths.map((p) => weightsPrefix + p);
    return json;
  };

  r.get(
    '/v1/jobs/:id/model',
    {
      schema: {
        tags: ['models'],
        summary: 'The trained model (tfjs layers model.json); pass this URL to tf.loadLayersModel',
        params: jobIdParamsSchema,
        response: { 200: modelJsonSchema, ...errors },
      },
    },
    async (request) => modelJson(request.params.id, 'model/'),
  );

  r.get(
    '/v1/jobs/:id/model/model.json',
    {
      schema: {
        tags: ['models'],
        summary: 'The same model.json, with weight paths relative to it',
        params: jobIdParamsSchema,
        response: { 200: modelJsonSchema, ...errors },
      },
    },
    async (request) => modelJson(request.params.id, ''),
  );

  // A binary body: the 200 is documented as octet-stream content; only errors are serialized as JSON.
  r.get<{ Params: z.infer<typeof jobIdParamsSchema>; Reply: Buffer | ErrorResponse }>(
    '/v1/jobs/:id/model/weights.bin',
    {
      schema: {
        tags: ['models'],
        summary: 'The trained weights (binary, application/octet-stream)',
        params: jobIdParamsSchema,
        response: {
          200: {
            description: "The weight data that model.json's weightsManifest describes.",
            content: { 'application/octet-stream': { schema: weightsSchema } },
          },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      await app.jobs.assertCompleted(request.params.id);
      const key = modelKeys(request.params.id).weights;
      const [info, data] = await Promise.all([app.artifacts.stat(key), app.artifacts.getStream(key)]);
      if (!info || !data) throw new NotFoundError('model of job', request.params.id);
      // Streamed from the store: the API never holds a whole model in memory. (The response schema
      // types the body as the bytes it documents; fastify sends a stream as it comes.)
      const body = Readable.from(data) as unknown as Buffer;
      return reply.type('application/octet-stream').header('content-length', info.size).send(body);
    },
  );
}
