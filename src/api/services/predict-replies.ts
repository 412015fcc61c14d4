import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PredictReply } from '../../queue/queues.js';
import type { RedisKeys } from '../../store/keys.js';

/**
 * Where one API process receives predict replies: workers push each reply onto this process's
 * list, and one blocking read per process hands it to the request waiting for it. A reply is
 * read once and gone; a list whose process died expires by itself.
 */
export class PredictReplies {
  readonly key: string;
  private readonly waiting = new Map<string, (reply: PredictReply) => void>();
  private closed = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly connection: Redis,
    keys: RedisKeys,
  ) {
    this.key = keys.predictReplies(randomUUID());
  }

  /** Resolves with the reply to `requestId`, or with undefined after `timeoutMs`. */
  wait(requestId: string, timeoutMs: number): Promise<PredictReply | undefined> {
    this.loop ??= this.read();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(requestId);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(requestId, (reply) => {
        clearTimeout(timer);
        this.waiting.delete(requestId);
        resolve(reply);
      });
    });
  }

  get pending(): number {
    return this.waiting.size;
  }

  private async read(): Promise<void> {
    while (!this.closed) {
      let popped: [string, string] | null;
      try {
        popped = await this.connection.blpop(this.key, 1);
      } catch {
        if (this.closed) return;
        continue;
      }
      if (!popped) continue;
      const reply = JSON.parse(popped[1]) as PredictReply;
      // A reply nobody waits for any more (its request timed out) is dropped.
      this.waiting.get(reply.requestId)?.(reply);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loop;
  }
}
