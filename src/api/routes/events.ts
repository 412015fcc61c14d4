import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { eventStreams, lastEventIdOf } from './sse.js';
import { errorResponseSchema, eventsQuerySchema, jobIdParamsSchema } from '../schemas.js';

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
          '`Last-Event-ID` header (or `?lastEventId=`) to get every later event exactly once. A comment line is sent at least every 15 s.',
        params: jobIdParamsSchema,
        querystring: eventsQuerySchema,
        response: { 400: errorResponseSchema, 404: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const after = await app.events.open(request.params.id, lastEventIdOf(request));
      await send(request, reply, (sink, signal) => app.events.follow(request.params.id, after, sink, signal));
    },
  );
}
