import { z } from 'zod';
import { jobListItemSchema, jobRecordSchema, jobStatusSchema } from '../spec/index.js';
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

/** Longest id a path may carry; the server's `maxParamLength` is the same, so a longer one is a 414. */
export const ID_MAX_LENGTH = 128;
export const idParamsSchema = z.object({ id: z.string().min(1).max(ID_MAX_LENGTH) });
export const jobIdParamsSchema = idParamsSchema;

export const listJobsQuerySchema = z.object({
  status: jobStatusSchema.optional(),
  experimentId: z.string().max(128).optional().describe('Only the trials of this experiment.'),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional().describe('The `next` of the previous page.'),
  view: z.enum(['slim', 'full']).default('slim').describe('`slim`: records without history and without inline data; `full`: whole job records.'),
});

export const jobListSchema = z.object({
  items: z.array(z.union([jobRecordSchema, jobListItemSchema])).describe('Job list items (`view=slim`) or job records (`view=full`).'),
  next: z
    .string()
    .nullable()
    .describe('Cursor of the next page; null on the last one. A page may end before `limit` when its size reaches MAX_LIST_RESPONSE_BYTES.'),
});

export const predictBodySchema = z.strictObject({
  inputs: z.array(z.unknown()).min(1).describe('Samples, each shaped like the model input (model.inputShape).'),
});

export const predictResponseSchema = z.object({ outputs: z.array(z.unknown()) });

export const eventsQuerySchema = z.object({
  lastEventId: z.string().max(64).optional().describe('Resume after this event id (same as the Last-Event-ID header).'),
});

export const readySchema = z.object({
  status: z.literal('ready'),
  workers: z.number().int().min(1).describe('Workers with a recent heartbeat.'),
});
