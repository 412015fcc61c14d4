import type { JobStore } from '../../store/job-store.js';
import type { StreamEvent } from '../../store/streams.js';
import { isTerminal, TERMINAL_STATUSES } from '../../spec/index.js';
import type { EventHub } from './event-hub.js';
import { BadRequestError, NotFoundError } from '../../shared/errors.js';

export interface EventSink {
  event(e: StreamEvent): void;
  comment(text: string): void;
  readonly closed: boolean;
}

const EVENT_ID = /^\d{1,20}-\d{1,20}$/;
const MAX_ID_PART = 2n ** 64n - 1n;

/** A stream entry id Redis accepts: `<ms>-<seq>`, each part an unsigned 64-bit integer. */
const isEventId = (id: string) => EVENT_ID.test(id) && id.split('-').every((part) => BigInt(part) <= MAX_ID_PART);

/** A stream to follow: a job's events or an experiment's. */
export interface FollowedStream {
  key: string;
  read(after: string): Promise<StreamEvent[]>;
  /** True once its terminal event was written; undefined when it no longer exists. */
  finished(): Promise<boolean | undefined>;
  isTerminal(e: StreamEvent): boolean;
}

/** Checks a client's Last-Event-ID; returns where to start. */
export function startAfter(lastEventId: string | undefined): string {
  if (lastEventId !== undefined && lastEventId !== '0' && !isEventId(lastEventId)) {
    throw new BadRequestError('invalid_event_id', `Last-Event-ID ${JSON.stringify(lastEventId)} is not an event id of this API`);
  }
  return lastEventId ?? '0';
}

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
    const after = startAfter(lastEventId);
    if (!(await this.store.exists(id))) throw new NotFoundError('job', id);
    return after;
  }

  /**
   * True when the client already has the job's terminal event: the job is over and nothing follows
   * `after`. Such a reconnect is answered 204, which stops a browser's EventSource.
   */
  delivered(id: string, after: string): Promise<boolean> {
    return this.streamDelivered(this.jobStream(id), after);
  }

  /** Sends every event of the job after `after` until the terminal one, or until the client goes away. */
  follow(id: string, after: string, sink: EventSink, signal: AbortSignal): Promise<void> {
    return this.followStream(this.jobStream(id), after, sink, signal);
  }

  private jobStream(id: string): FollowedStream {
    return {
      key: this.store.eventsKey(id),
      read: (from) => this.store.readEvents(id, from),
      finished: async () => {
        const status = await this.store.getStatus(id);
        return status && isTerminal(status);
      },
      isTerminal: (e) => (TERMINAL_STATUSES as readonly string[]).includes(e.type),
    };
  }

  /** True when the stream is over and nothing follows `after` (the client has its terminal event). */
  async streamDelivered(stream: FollowedStream, after: string): Promise<boolean> {
    if (after === '0') return false;
    if ((await stream.finished()) === false) return false;
    return (await stream.read(after)).length === 0;
  }

  /** Sends every event of a stream after `after` until its terminal one, or until the client goes away. */
  async followStream(stream: FollowedStream, after: string, sink: EventSink, signal: AbortSignal): Promise<void> {
    let last = after;
    for (;;) {
      // State first, then read: if the stream was already over and nothing follows `last`, the
      // terminal event is behind us and the stream is done.
      const finished = await stream.finished();
      const events = await stream.read(last);
      if (events.length === 0) {
        if (finished !== false) return;
        break;
      }
      for (const e of events) {
        sink.event(e);
        last = e.id;
        if (stream.isTerminal(e)) return;
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
        // A job or experiment deleted while followed never sends its terminal event: end its streams.
        stream.finished().then((f) => f === undefined && finish(), finish);
      }, this.heartbeatMs);
      const unsubscribe = this.hub.subscribe(stream.key, last, (events) => {
        for (const e of events) {
          if (sink.closed) return finish();
          sink.event(e);
          if (stream.isTerminal(e)) return finish();
        }
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
