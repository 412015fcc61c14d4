import { z } from 'zod';
import { jobListItemSchema, jobRecordSchema, jobStatusSchema } from '../spec/index.js';

export const errorResponseSchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code.'),
      message: z.string(),
      details: z.unknown().optional().describe('For invalid_spec: [{path, message}] with every offending path.'),
    }),
  })
  .describe('Every error has this shape.')
  .meta({ id: 'Error' });

/** Longest id a path may carry; the server's `maxParamLength` is the same, so a longer one is a 414. */
export const ID_MAX_LENGTH = 128;
export const idParamsSchema = z.object({ id: z.string().min(1).max(ID_MAX_LENGTH) });
export const jobIdParamsSchema = idParamsSchema;

export const listJobsQuerySchema = z.object({
  status: jobStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional().describe('The `next` of the previous page.'),
  view: z
    .enum(['slim', 'full'])
    .default('slim')
    .describe('`slim`: records without history and without inline data; `full`: whole job records.'),
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

export const healthSchema = z.object({
  status: z.literal('ok'),
  backend: z.enum(['tensorflow', 'cpu', 'wasm']).nullable().describe('Training backend of the live workers (null: none yet).'),
  workers: z.array(z.object({ id: z.string(), backend: z.string(), host: z.string(), pid: z.number() })),
  version: z.string(),
});

export const readySchema = z.object({
  status: z.literal('ready'),
  workers: z.number().int().min(1).describe('Workers with a recent heartbeat.'),
});

/** An optimizer parameter or a built-in dataset option, with its default and valid range. */
export const optionInfoSchema = z
  .object({
    name: z.string(),
    type: z.string(),
    default: z.unknown().optional(),
    minimum: z.number().optional(),
    exclusiveMinimum: z.number().optional(),
    maximum: z.number().optional(),
    exclusiveMaximum: z.number().optional(),
    enum: z.array(z.unknown()).optional(),
    description: z.string().optional(),
  })
  .meta({ id: 'OptionInfo' });
