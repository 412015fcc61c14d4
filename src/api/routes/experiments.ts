import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { experimentCurvesSchema, experimentEventSchemas, experimentListItemSchema, experimentRecordSchema, experimentSpecSchema } from '../../spec/index.js';
import { visibleTenant } from '../../shared/access.js';
import { errorResponses, eventsQuerySchema, jobIdParamsSchema, noContentSchema } from '../schemas.js';
import { eventStreams, lastEventIdOf, streamMessageSchema } from './sse.js';

const errors = errorResponses(400, 404, 409, 422, 503);

/** One message of an experiment's stream. */
const experimentStreamMessageSchema = streamMessageSchema(experimentEventSchemas, 'ExperimentStreamEvent');

const tags = ['experiments'];

export async function experimentRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const send = eventStreams(app);

  r.post(
    '/v1/experiments',
    {
      schema: {
        tags,
        summary: 'Start an experiment: a search over a job spec, or the optimizer-comparison protocol',
        description:
          'Every trial is a job (tagged with the experiment id) and passes the same checks as POST /v1/jobs before anything is ' +
          'queued: a 400 lists each trial with its parameters and the path of its problem; more trials than MAX_TRIALS is a 422. ' +
          'At most `maxConcurrentTrials` trials are queued at once.',
        body: experimentSpecSchema,
        response: { 202: experimentRecordSchema, ...errors },
      },
    },
    async (request, reply) => reply.code(202).send(await app.experiments.submit(request.body, request.principal.tenant)),
  );

  r.get(
    '/v1/experiments',
    {
      schema: {
        tags,
        summary: 'List experiments, newest first',
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: z.coerce.number().int().min(0).optional().describe('The `next` of the previous page.'),
        }),
        response: { 200: z.object({ items: z.array(experimentListItemSchema), next: z.string().nullable() }), ...errors },
      },
    },
    async (request) => app.experiments.list(request.query, visibleTenant(request.principal)),
  );

  r.get(
    '/v1/experiments/:id',
    {
      schema: {
        tags,
        summary: 'An experiment: its trials (parameters, status, objective, epochs, scheduler decisions), leaderboard and per-optimizer summary',
        params: jobIdParamsSchema,
        // 410: its inline data is gone from the artifact store.
        response: { 200: experimentRecordSchema, ...errorResponses(410), ...errors },
      },
    },
    async (request) => app.experiments.get(request.params.id),
  );

  r.get(
    '/v1/experiments/:id/curves',
    {
      schema: {
        tags,
        summary: 'One metric of every trial per epoch, aligned for plotting',
        params: jobIdParamsSchema,
        querystring: z.object({ metric: z.string().min(1).max(64).default('loss').describe('An epoch metric: loss, val_loss, accuracy, ...') }),
        response: { 200: experimentCurvesSchema, ...errors },
      },
    },
    async (request) => app.experiments.curves(request.params.id, request.query.metric),
  );

  r.get(
    '/v1/experiments/:id/leaderboard.csv',
    {
      schema: {
        tags,
        summary: 'The leaderboard as CSV (text/csv)',
        params: jobIdParamsSchema,
        response: {
          200: z.string().describe('CSV with a header row: rank, trial, jobId, optimizer, learningRate, params (JSON), seed, status, ...'),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const csv = await app.experiments.leaderboardCsv(request.params.id);
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="experiment-${request.params.id}.csv"`).send(csv);
    },
  );

  r.get(
    '/v1/experiments/:id/events',
    {
      schema: {
        tags,
        summary: 'Live experiment events (text/event-stream)',
        description:
          '`trial_waiting` (a trial waits for room in a tenant quota), ' +
          "`trial_started`, `trial_epoch` (each trial's epoch event with `trial` and `jobId`), `trial_stopped` (the scheduler's decision), " +
          "`trial_ended`, `phase` (the protocol's reruns begin), then `completed` or `cancelled`, after which the server ends the response. " +
          'Reconnect with `Last-Event-ID` (or `?lastEventId=`) to get every later event exactly once.',
        params: jobIdParamsSchema,
        querystring: eventsQuerySchema,
        response: {
          200: { description: 'The event stream.', content: { 'text/event-stream': { schema: experimentStreamMessageSchema } } },
          204: noContentSchema.describe("A reconnect after the terminal event (a browser's EventSource then stops)."),
          ...errorResponses(400, 404),
        },
      },
    },
    async (request, reply) => {
      const after = await app.experiments.openEvents(request.params.id, lastEventIdOf(request));
      if (await app.experiments.eventsDelivered(request.params.id, after)) return reply.code(204).send();
      await send(request, reply, (sink, signal) => app.experiments.followEvents(request.params.id, after, sink, signal));
    },
  );

  r.post(
    '/v1/experiments/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel an experiment and its queued and running trials',
        params: jobIdParamsSchema,
        // 410: its inline data is gone from the artifact store.
        response: { 200: experimentRecordSchema, ...errorResponses(410), ...errors },
      },
    },
    async (request) => app.experiments.cancel(request.params.id),
  );

  r.delete(
    '/v1/experiments/:id',
    {
      schema: {
        tags,
        summary: "Delete an experiment and its trials' jobs (a running one is cancelled first)",
        params: jobIdParamsSchema,
        response: { 204: noContentSchema, ...errors },
      },
    },
    async (request, reply) => {
      await app.experiments.remove(request.params.id);
      return reply.code(204).send();
    },
  );
}
