import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type StreamEvent, eventIdAfter, readStreams } from '../../store/streams.js';
import type { RedisKeys } from '../../store/keys.js';

interface Listener {
  /** The id of the last event this listener has. */
  last: string;
  deliver(events: StreamEvent[]): void;
}

/** How long one blocking read waits before it is issued again (new jobs wake it at once). */
const BLOCK_MS = 5_000;
/** After a failed read (Redis away), wait this long before the next. */
const RETRY_MS = 500;

/**
 * Live job events for every SSE client of this API process through one Redis connection: a
 * single blocking XREAD over the streams of all jobs someone follows, plus a wake stream of
 * the hub's own, which a new follower writes to so the read restarts with its job in it (no
 * race: the read resumes the wake stream from the last entry it saw). Each listener gets only
 * the events after its own last id, in order.
 */
export class EventHub {
  private readonly streams = new Map<string, Set<Listener>>();
  private readonly wakeKey: string;
  /** CLIENT LIST shows the hub's connection under this name. */
  readonly connectionName: string;
  private wakeAfter = '0';
  private connection: Redis | undefined;
  private running: Promise<void> | undefined;
  private idle: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    keys: RedisKeys,
  ) {
    this.wakeKey = keys.hubWake(randomUUID());
    this.connectionName = `${keys.prefix}:event-hub`;
  }

  /** Delivers a stream's events (a job's, an experiment's) after `last` as they are written, until the returned function is called. */
  subscribe(streamKey: string, last: string, deliver: (events: StreamEvent[]) => void): () => void {
    const listener: Listener = { last, deliver };
    let set = this.streams.get(streamKey);
    if (!set) this.streams.set(streamKey, (set = new Set()));
    set.add(listener);
    this.running ??= this.run();
    if (this.idle) this.idle();
    else
      this.redis
        .multi()
        .xadd(this.wakeKey, 'MAXLEN', '~', 100, '*', 'stream', streamKey)
        .pexpire(this.wakeKey, 3_600_000)
        .exec()
        .catch(() => undefined);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.streams.get(streamKey) === set) this.streams.delete(streamKey);
    };
  }

  /** How many streams (`jobs`) and listeners the hub serves (for health and tests). */
  get size(): { jobs: number; listeners: number } {
    let listeners = 0;
    for (const set of this.streams.values()) listeners += set.size;
    return { jobs: this.streams.size, listeners };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.idle?.();
    this.connection?.disconnect();
    await this.running;
    await this.redis.del(this.wakeKey).catch(() => 0);
  }

  private async run(): Promise<void> {
    // A blocking read holds its connection: the hub has one of its own.
    const connection = this.redis.duplicate({
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      lazyConnect: true,
      connectionName: this.connectionName,
    });
    connection.on('error', () => {});
    this.connection = connection;
    while (!this.closed) {
      if (this.streams.size === 0) {
        await new Promise<void>((resolve) => (this.idle = resolve));
        this.idle = undefined;
        continue;
      }
      // Each stream is read from its furthest-behind listener.
      const cursors = new Map<string, string>();
      for (const [key, set] of this.streams) {
        let min: string | undefined;
        for (const l of set) if (min === undefined || eventIdAfter(min, l.last)) min = l.last;
        cursors.set(key, min!);
      }
      let read: Awaited<ReturnType<typeof readStreams>>;
      try {
        if (connection.status === 'wait') await connection.connect();
        read = await readStreams(cursors, { key: this.wakeKey, after: this.wakeAfter }, { blockMs: BLOCK_MS, connection });
      } catch {
        if (this.closed) break;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      if (read.wakeId) this.wakeAfter = read.wakeId;
      for (const [key, events] of read.events) {
        for (const l of [...(this.streams.get(key) ?? [])]) {
          const fresh = events.filter((e) => eventIdAfter(e.id, l.last));
          if (fresh.length === 0) continue;
          l.last = fresh.at(-1)!.id;
          l.deliver(fresh);
        }
      }
    }
    connection.disconnect();
  }
}
