import type { JobEvent, JobStore } from '../../store/job-store.js';
import { isTerminal, TERMINAL_STATUSES } from '../../spec/index.js';
import type { EventHub } from './event-hub.js';
import { BadRequestError, NotFoundError } from '../../shared/errors.js';

export interface EventSink {
  event(e: JobEvent): void;
  comment(text: string): void;
  readonly closed: boolean;
}

const EVENT_ID = /^\d{1,20}-\d{1,20}$/;
const MAX_ID_PART = 2n ** 64n - 1n;

/** A stream entry id Redis accepts: `<ms>-<seq>`, each part an unsigned 64-bit integer. */
const isEventId = (id: string) => EVENT_ID.test(id) && id.split('-').every((part) => BigInt(part) <= MAX_ID_PART);

const isTerminalEvent = (e: JobEvent) => (TERMINAL_STATUSES as readonly string[]).includes(e.type);

/**
 * Replays and follows a job's event stream for one SSE client. Reading from the Redis Stream
 * (not pub/sub) is what makes Last-Event-ID resume exact, from any API process, even after the
 * job ended. The backlog is read with plain reads; live events come from the process-wide
 * EventHub, so clients do not hold a Redis connection each.
 */
export class EventsService {
  constructor(
    private readonly store: JobStore,
    private readonly hub: EventHub,
    private readonly heartbeatMs: number,
  ) {}

  /** Streams following live events in this process, and the name of the one connection they share. */
  get live(): { streams: number; connectionName: string } {
    return { streams: this.hub.size.listeners, connectionName: this.hub.connectionName };
  }

  async open(id: string, lastEventId: string | undefined): Promise<string> {
    if (lastEventId !== undefined && lastEventId !== '0' && !isEventId(lastEventId)) {
      throw new BadRequestError('invalid_event_id', `Last-Event-ID ${JSON.stringify(lastEventId)} is not an event id of this API`);
    }
    if (!(await this.store.exists(id))) throw new NotFoundError('job', id);
    return lastEventId ?? '0';
  }

  /**
   * True when the client already has the terminal event: the job is over and nothing follows
   * `after`. Such a reconnect is answered 204, which stops a browser's EventSource.
   */
  async delivered(id: string, after: string): Promise<boolean> {
    if (after === '0') return false;
    const status = await this.store.getStatus(id);
    if (status !== undefined && !isTerminal(status)) return false;
    return (await this.store.readEvents(id, after, { count: 1 })).length === 0;
  }

  /** Sends every event after `after` until the terminal one, or until the client goes away. */
  async follow(id: string, after: string, sink: EventSink, signal: AbortSignal): Promise<void> {
    let last = after;
    for (;;) {
      // Status first, then read: if the job was already over and nothing follows `last`, the
      // terminal event is behind us and the stream is done.
      const status = await this.store.getStatus(id);
      const events = await this.store.readEvents(id, last);
      if (events.length === 0) {
        if (!status || isTerminal(status)) return;
        break;
      }
      for (const e of events) {
        sink.event(e);
        last = e.id;
        if (isTerminalEvent(e)) return;
      }
      if (sink.closed) return;
    }
    if (signal.aborted) return;
    await new Promise<void>((resolve, reject) => {
      const finish = (err?: unknown) => {
        clearInterval(heartbeat);
        unsubscribe();
        signal.removeEventListener('abort', onAbort);
        if (err && !signal.aborted) reject(err instanceof Error ? err : new Error('the event stream failed', { cause: err }));
        else resolve();
      };
      const onAbort = () => finish();
      const heartbeat = setInterval(() => {
        sink.comment('keepalive');
        // A job deleted while followed never sends its terminal event: end its streams.
        this.store.getStatus(id).then((s) => s === undefined && finish(), finish);
      }, this.heartbeatMs);
      const unsubscribe = this.hub.subscribe(id, last, (events) => {
        for (const e of events) {
          if (sink.closed) return finish();
          sink.event(e);
          if (isTerminalEvent(e)) return finish();
        }
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
