import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { eventStreams, lastEventIdOf, streamMessageSchema } from './sse.js';
import { jobEventDataSchemas } from '../../spec/index.js';
import { errorResponseSchema, eventsQuerySchema, jobIdParamsSchema, noContentSchema } from '../schemas.js';

/** One message of a job's stream: each event type with the schema the job lifecycle writes it with. */
export const jobStreamMessageSchema = streamMessageSchema(jobEventDataSchemas, 'JobStreamEvent');

export async function eventRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const send = eventStreams(app);

  r.get(
    '/v1/jobs/:id/events',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Live job events (text/event-stream)',
        description:
          'Server-sent events: `status` on each state change, `epoch` per finished epoch, then one of `completed`, ' +
          '`failed`, `cancelled`, after which the server ends the response. Each event has an `id:` line; reconnect with the ' +
          '`Last-Event-ID` header (or `?lastEventId=`) to get every later event exactly once. A comment line is sent at least every 15 s. ' +
          "A reconnect after the terminal event is answered `204` with no body, which stops a browser's `EventSource` " +
          '(it would otherwise reconnect forever).',
        params: jobIdParamsSchema,
        querystring: eventsQuerySchema,
        response: {
          200: { description: 'The event stream.', content: { 'text/event-stream': { schema: jobStreamMessageSchema } } },
          204: noContentSchema.describe('The client already has the terminal event: nothing more will come (EventSource stops).'),
          400: errorResponseSchema,
          404: errorResponseSchema,
        },
      },
    },
    async (request, reply) => {
      const after = await app.events.open(request.params.id, lastEventIdOf(request));
      if (await app.events.delivered(request.params.id, after)) return reply.code(204).send();
      await send(request, reply, (sink, signal) => app.events.follow(request.params.id, after, sink, signal));
    },
  );
}
