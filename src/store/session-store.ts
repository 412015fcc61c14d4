import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

export interface Session {
  keyId: string;
  /** Sent back by the browser in `X-CSRF-Token` on every write made with the session cookie. */
  csrfToken: string;
  expiresAt: string;
}

const digest = (sessionId: string) => createHash('sha256').update(sessionId).digest('hex');

/**
 * Browser sessions: an HttpOnly cookie holds a random session id, Redis holds (under its hash)
 * the API key it stands for and a CSRF token, and expires it by itself.
 */
export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async create(keyId: string, ttlSeconds: number): Promise<{ sessionId: string; session: Session }> {
    const sessionId = randomBytes(32).toString('base64url');
    const session: Session = {
      keyId,
      csrfToken: randomBytes(24).toString('base64url'),
      expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString(),
    };
    await this.redis.set(this.keys.session(digest(sessionId)), JSON.stringify(session), 'EX', ttlSeconds);
    return { sessionId, session };
  }

  async get(sessionId: string): Promise<Session | undefined> {
    const raw = await this.redis.get(this.keys.session(digest(sessionId)));
    return raw ? (JSON.parse(raw) as Session) : undefined;
  }

  async remove(sessionId: string): Promise<void> {
    await this.redis.del(this.keys.session(digest(sessionId)));
  }
}
