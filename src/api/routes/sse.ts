import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { StreamEvent } from '../../store/streams.js';
import type { EventSink } from '../services/events-service.js';

/**
 * One message of an event stream, as OpenAPI can show it: the `id:`, `event:` and `data:` lines of
 * each event type, the data from the schemas its writer uses. Documentation only (the routes write
 * the stream themselves), so the union's tuple type can stay loose.
 */
export function streamMessageSchema(dataSchemas: Record<string, z.ZodType>, id: string) {
  const messageOf = (event: string) =>
    z.object({
      id: z.string().describe('The `id:` line: the stream entry id, for Last-Event-ID.'),
      event: z.literal(event).describe('The `event:` line.'),
      data: dataSchemas[event]!.describe('The `data:` line, as JSON.'),
    });
  return z
    .discriminatedUnion('event', Object.keys(dataSchemas).map(messageOf) as [ReturnType<typeof messageOf>, ...ReturnType<typeof messageOf>[]])
    .describe('One server-sent event (the lines `id:`, `event:`, `data:`, then a blank line).')
    .meta({ id });
}

/** The client's resume point: the Last-Event-ID header, else `?lastEventId=`. */
export function lastEventIdOf(request: { headers: FastifyRequest['headers']; query: { lastEventId?: string | undefined } }): string | undefined {
  const header = request.headers['last-event-id'];
  return (Array.isArray(header) ? header[0] : header) ?? request.query.lastEventId;
}

/**
 * Serves server-sent events for an app: `send` takes over a reply and writes what `follow` sends
 * to its sink until follow returns or the client goes away. Live streams end before the server
 * stops, so closing never waits on them; clients reconnect (to another API process) with
 * Last-Event-ID and miss nothing.
 */
export function eventStreams(app: FastifyInstance) {
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });
  return async function send(request: FastifyRequest, reply: FastifyReply, follow: (sink: EventSink, signal: AbortSignal) => Promise<void>): Promise<void> {
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
    const sink: EventSink = {
      get closed() {
        return closed;
      },
      event: (e: StreamEvent) => raw.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`),
      comment: (text: string) => raw.write(`: ${text}\n\n`),
    };
    try {
      await follow(sink, controller.signal);
    } catch (err) {
      request.log.warn({ err }, 'event stream ended by an error');
    } finally {
      open.delete(end);
      end();
    }
  };
}
