import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StreamEvent } from '../../store/streams.js';
import type { EventSink } from '../services/events-service.js';

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
