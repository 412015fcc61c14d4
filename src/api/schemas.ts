import { z } from 'zod';
import { jobRecordSchema, jobStatusSchema } from '../spec/index.js';
import { apiErrorCodeSchema } from '../shared/errors.js';

export const errorResponseSchema = z
  .object({
    error: z.object({
      code: apiErrorCodeSchema,
      message: z.string(),
      details: z.unknown().optional().describe('For invalid_spec: [{path, message}] with every offending path.'),
    }),
  })
  .describe('Every error has this shape.')
  .meta({ id: 'Error' });
export type ErrorResponse = z.infer<typeof errorResponseSchema>;

/** The error responses of a route, by status: `...errorResponses(400, 404)` in its `response`. */
export function errorResponses<S extends number>(...statuses: S[]): Record<S, typeof errorResponseSchema> {
  return Object.fromEntries(statuses.map((s) => [s, errorResponseSchema])) as Record<S, typeof errorResponseSchema>;
}

/**
 * A response without a body (204): `z.undefined()` is what @fastify/swagger documents as no
 * content (`z.null()` would be a JSON `null`).
 */
export const noContentSchema = z.undefined().describe('No content.');

export const jobIdParamsSchema = z.object({ id: z.string().min(1).max(128) });

export const listJobsQuerySchema = z.object({
  status: jobStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional().describe('The `next` of the previous page.'),
});

export const jobListSchema = z.object({
  items: z.array(jobRecordSchema),
  next: z.string().nullable().describe('Cursor of the next page; null on the last one.'),
});

export const predictBodySchema = z.strictObject({
  inputs: z.array(z.unknown()).min(1).describe('Samples, each shaped like the model input (model.inputShape).'),
});

export const predictResponseSchema = z.object({ outputs: z.array(z.unknown()) });

export const eventsQuerySchema = z.object({
  lastEventId: z.string().max(64).optional().describe('Resume after this event id (same as the Last-Event-ID header).'),
});
