import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Config } from '../../config/config.js';
import { redisKeys } from '../../store/keys.js';
import { DomainError } from '../../shared/errors.js';

/**
 * Requests per API key (per client address without one) and window, counted in Redis so every
 * API process shares the count; over it is a 429 with Retry-After. Runs after authentication,
 * so a key's count is its own whatever address it comes from. Probes are not counted.
 */
async function rateLimits(app: FastifyInstance, opts: { config: Config }) {
  const c = opts.config;
  if (c.RATE_LIMIT_MAX === 0) return;
  await app.register(rateLimit, {
    global: true,
    max: c.RATE_LIMIT_MAX,
    timeWindow: c.RATE_LIMIT_WINDOW_MS,
    redis: app.redis,
    nameSpace: redisKeys(c.REDIS_PREFIX).rateLimit,
    // A Redis outage must not turn every request into a 500: the request goes on (and meets the outage itself).
    skipOnError: true,
    keyGenerator: (request) => (request.principal?.keyId ? `key:${request.principal.keyId}` : `ip:${request.ip}`),
    allowList: (request) => request.routeOptions.config.access?.public === true,
    errorResponseBuilder: (_request, context) =>
      new DomainError(
        429,
        'rate_limited',
        `rate limit exceeded: at most ${context.max} requests per ${c.RATE_LIMIT_WINDOW_MS / 1000} s; retry in ${context.after}`,
      ),
  });
}

export default fp(rateLimits, { name: 'rate-limits', dependencies: ['access', 'infrastructure'] });
