import type { Redis } from 'ioredis';

/** One entry of an event stream (a job's or an experiment's): SSE sends `id` as the event id. */
export interface StreamEvent<T extends string = string> {
  /** The Redis stream entry id. */
  id: string;
  type: T;
  data: Record<string, unknown>;
}

/** Stream ids are `<ms>-<seq>`: true when `a` comes after `b`. */
export function eventIdAfter(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint?];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint?];
  return am !== bm ? am > bm : (as ?? 0n) > (bs ?? 0n);
}

export function parseEntry<T extends string>(entryId: string, kv: string[]): StreamEvent<T> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < kv.length; i += 2) fields[kv[i]!] = kv[i + 1]!;
  return { id: entryId, type: fields.type as T, data: JSON.parse(fields.data ?? '{}') as Record<string, unknown> };
}

/**
 * Events of one stream after `afterId` ("0" = from the start), oldest first. With `blockMs`, waits
 * that long for the first one; pass a connection of its own then, since it is held meanwhile.
 */
export async function readStream<T extends string>(
  redis: Redis,
  key: string,
  afterId: string,
  options: { count?: number; blockMs?: number; connection?: Redis } = {},
): Promise<StreamEvent<T>[]> {
  const conn = options.connection ?? redis;
  const count = options.count ?? 500;
  const reply =
    options.blockMs === undefined
      ? await conn.xread('COUNT', count, 'STREAMS', key, afterId)
      : await conn.xread('COUNT', count, 'BLOCK', options.blockMs, 'STREAMS', key, afterId);
  if (!reply) return [];
  return reply[0]![1].map(([entryId, kv]) => parseEntry<T>(entryId, kv));
}

/**
 * One blocking read over several streams: the events of each stream key after its cursor, plus
 * the entries of `wake` after its cursor.
 */
export async function readStreams(
  cursors: Map<string, string>,
  wake: { key: string; after: string },
  options: { count?: number; blockMs: number; connection: Redis },
): Promise<{ events: Map<string, StreamEvent[]>; wakeId?: string }> {
  const keys = [...cursors.keys(), wake.key];
  const after = [...cursors.values(), wake.after];
  const reply = (await options.connection.call('XREAD', 'COUNT', options.count ?? 500, 'BLOCK', options.blockMs, 'STREAMS', ...keys, ...after)) as
    [string, [string, string[]][]][] | null;
  const events = new Map<string, StreamEvent[]>();
  let wakeId: string | undefined;
  for (const [key, entries] of reply ?? []) {
    if (key === wake.key) wakeId = entries.at(-1)?.[0];
    else
      events.set(
        key,
        entries.map(([entryId, kv]) => parseEntry(entryId, kv)),
      );
  }
  return { events, ...(wakeId ? { wakeId } : {}) };
}
