import type { Redis } from 'ioredis';
import type { JobEvent, JobStore } from '../../queue/job-store.js';
import { isTerminal, TERMINAL_STATUSES } from '../../spec/index.js';
import { DomainError, NotFoundError } from '../../shared/errors.js';

export interface EventSink {
  event(e: JobEvent): void;
  comment(text: string): void;
  readonly closed: boolean;
}

const EVENT_ID = /^\d{1,20}-\d{1,20}$/;

/**
 * Replays and follows a job's event stream for one SSE client. Reading from the Redis Stream
 * (not pub/sub) is what makes Last-Event-ID resume exact, from any API process, even after the
 * job ended.
 */
export class EventsService {
  constructor(
    private readonly store: JobStore,
    private readonly redis: Redis,
    private readonly heartbeatMs: number,
  ) {}

  async open(id: string, lastEventId: string | undefined): Promise<string> {
    if (lastEventId !== undefined && lastEventId !== '0' && !EVENT_ID.test(lastEventId)) {
      throw new DomainError(400, 'invalid_event_id', `Last-Event-ID ${JSON.stringify(lastEventId)} is not an event id of this API`);
    }
    if (!(await this.store.exists(id))) throw new NotFoundError('job', id);
    return lastEventId ?? '0';
  }

  /** Sends every event after `after` until the terminal one, or until the client goes away. */
  async follow(id: string, after: string, sink: EventSink, signal: AbortSignal): Promise<void> {
    // A blocking XREAD holds its connection, so each follower has its own.
    const conn = this.redis.duplicate({ maxRetriesPerRequest: null, lazyConnect: true });
    conn.on('error', () => {});
    const stop = () => conn.disconnect();
    signal.addEventListener('abort', stop, { once: true });
    let last = after;
    try {
      await conn.connect();
      while (!sink.closed) {
        // Status first, then read: if the job was already over and nothing follows `last`,
        // the terminal event is behind us and the stream is done.
        const status = await this.store.getStatus(id);
        let events = await this.store.readEvents(id, last);
        if (events.length === 0) {
          if (!status || isTerminal(status)) return;
          events = await this.store.readEvents(id, last, { blockMs: this.heartbeatMs, connection: conn });
          if (sink.closed) return;
          if (events.length === 0) {
            sink.comment('keepalive');
            continue;
          }
        }
        for (const e of events) {
          sink.event(e);
          last = e.id;
          if ((TERMINAL_STATUSES as readonly string[]).includes(e.type)) return;
        }
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      signal.removeEventListener('abort', stop);
      conn.disconnect();
    }
  }
}
