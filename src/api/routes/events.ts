import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EVENT_TYPES, type JobEvent, type JobEventType, jobEventDataSchemas } from '../../spec/index.js';
import { errorResponseSchema, eventsQuerySchema, jobIdParamsSchema, noContentSchema } from '../schemas.js';

const sseMessageOf = <T extends JobEventType>(event: T) =>
  z.object({
    id: z.string().describe('The `id:` line: the stream entry id, for Last-Event-ID.'),
    event: z.literal(event).describe('The `event:` line.'),
    data: jobEventDataSchemas[event].describe('The `data:` line, as JSON.'),
  });

/**
 * One message of the stream, as OpenAPI can show it: the `id:`, `event:` and `data:` lines of
 * each event type, the data from the schemas the job lifecycle writes with.
 */
export const jobStreamMessageSchema = z
  // Documentation only (the route writes the stream itself), so the tuple type can stay loose.
  .discriminatedUnion('event', EVENT_TYPES.map(sseMessageOf) as [ReturnType<typeof sseMessageOf>, ...ReturnType<typeof sseMessageOf>[]])
  .describe('One server-sent event (the lines `id:`, `event:`, `data:`, then a blank line).')
  .meta({ id: 'JobStreamEvent' });

export async function eventRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const open = new Set<() => void>();
  // Ends live streams before the server stops, so closing never waits on them; clients
  // reconnect (to another API process) with Last-Event-ID and miss nothing.
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });

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
          'A reconnect after the terminal event is answered `204` with no body, which stops a browser\'s `EventSource` ' +
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
      const header = request.headers['last-event-id'];
      const after = await app.events.open(request.params.id, (Array.isArray(header) ? header[0] : header) ?? request.query.lastEventId);
      if (await app.events.delivered(request.params.id, after)) return reply.code(204).send();
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        ...(reply.getHeaders() as OutgoingHttpHeaders), // set by hooks (CORS): a hijacked reply does not send them itself
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write('retry: 2000\n\n');
      const controller = new AbortController();
      let closed = false;
      const end = () => {
        if (closed) return;
        closed = true;
        controller.abort();
        raw.end();
      };
      open.add(end);
      raw.on('close', end);
      const sink = {
        get closed() {
          return closed;
        },
        event: (e: JobEvent) => raw.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`),
        comment: (text: string) => raw.write(`: ${text}\n\n`),
      };
      try {
        await app.events.follow(request.params.id, after, sink, controller.signal);
      } catch (err) {
        request.log.warn({ err }, 'event stream ended by an error');
      } finally {
        open.delete(end);
        end();
      }
    },
  );
}
