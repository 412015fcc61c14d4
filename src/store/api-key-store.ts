import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { scopeSchema, tenantSchema, type Scope } from '../shared/access.js';
import type { RedisKeys } from './keys.js';

/** What the API shows of a key: never the secret, never its hash. */
export const apiKeyInfoSchema = z
  .object({
    id: z.string().describe('Public id of the key (its secret is shown once, at creation).'),
    tenant: tenantSchema,
    scope: scopeSchema,
    name: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKeyInfo = z.infer<typeof apiKeyInfoSchema>;

/** A key is `dsk_<id>_<secret>`: the id finds the record, the secret is compared with its stored hash. */
const KEY_FORMAT = /^dsk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/**
 * API keys in Redis. Only the SHA-256 of a key's secret is stored (keys are 256-bit random, so a
 * fast hash is enough: there is nothing to brute-force), and it is compared in constant time.
 */
export class ApiKeyStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** Creates a key; the returned `key` is the only time its secret exists outside the caller. */
  async create(input: { tenant: string; scope: Scope; name?: string | null }): Promise<ApiKeyInfo & { key: string }> {
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const info: ApiKeyInfo = {
      id,
      tenant: tenantSchema.parse(input.tenant),
      scope: input.scope,
      name: input.name ?? null,
      createdAt: new Date().toISOString(),
    };
    await this.redis
      .multi()
      .hset(this.keys.apiKey(id), { ...info, name: info.name ?? '', secretSha256: sha256(secret).toString('hex') })
      .zadd(this.keys.apiKeyIndex, Date.parse(info.createdAt), id)
      .sadd(this.keys.tenants, info.tenant)
      .exec();
    return { ...info, key: `dsk_${id}_${secret}` };
  }

  async get(id: string): Promise<ApiKeyInfo | undefined> {
    const h = await this.redis.hgetall(this.keys.apiKey(id));
    if (!h.id) return undefined;
    return { id: h.id, tenant: h.tenant!, scope: h.scope as Scope, name: h.name || null, createdAt: h.createdAt! };
  }

  /** The key's record when `key` is a live key, else undefined (malformed, unknown, revoked, wrong secret). */
  async verify(key: string): Promise<ApiKeyInfo | undefined> {
    const m = KEY_FORMAT.exec(key);
    if (!m) return undefined;
    const [, id, secret] = m as unknown as [string, string, string];
    const stored = await this.redis.hget(this.keys.apiKey(id), 'secretSha256');
    if (!stored) return undefined;
    const expected = Buffer.from(stored, 'hex');
    const actual = sha256(secret);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
    return this.get(id);
  }

  /** Oldest first. */
  async list(): Promise<ApiKeyInfo[]> {
    const ids = await this.redis.zrange(this.keys.apiKeyIndex, 0, -1);
    const infos = await Promise.all(ids.map((id) => this.get(id)));
    return infos.filter((i): i is ApiKeyInfo => i !== undefined);
  }

  /** Revokes a key at once (sessions made from it end with it); false when there was none. */
  async revoke(id: string): Promise<boolean> {
    const result = await this.redis.multi().del(this.keys.apiKey(id)).zrem(this.keys.apiKeyIndex, id).exec();
    return Number(result?.[0]?.[1] ?? 0) > 0;
  }
}
