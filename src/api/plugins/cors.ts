import cors from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { corsOriginList } from '../../config/config.js';
import { ForbiddenError } from '../../shared/errors.js';

/** Request headers a page on another origin may send (auth and resume included). */
export const CORS_ALLOWED_HEADERS = ['content-type', 'authorization', 'last-event-id', 'idempotency-key', 'x-request-id'];
/** Response headers such a page may read. */
export const CORS_EXPOSED_HEADERS = ['idempotent-replayed', 'retry-after', 'x-request-id'];

/**
 * Cross-origin access for the origins CORS_ORIGINS names (`*`: any). The dashboard is served
 * by the API itself, so it needs none. An allowed origin is echoed back (never `*`), so
 * fetch, EventSource and tf.loadLayersModel work from it; a preflight from any other origin
 * is refused with 403, and its other requests get no CORS headers, which the browser refuses.
 */
export default fp(
  async function corsPlugin(app: FastifyInstance, opts: { origins: string }) {
    const list = corsOriginList(opts.origins);
    const any = list.includes('*');
    const allowed = new Set(list);
    await app.register(cors, {
      delegator: (request: FastifyRequest, callback) => {
        const origin = request.headers.origin;
        const ok = origin !== undefined && (any || allowed.has(origin));
        const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
        if (!ok && preflight && origin !== undefined) {
          callback(new ForbiddenError('origin_not_allowed', `origin ${origin} may not call this API (CORS_ORIGINS)`), { origin: false });
          return;
        }
        callback(null, {
          origin: ok,
          methods: ['GET', 'HEAD', 'POST', 'DELETE'],
          allowedHeaders: CORS_ALLOWED_HEADERS,
          exposedHeaders: CORS_EXPOSED_HEADERS,
          maxAge: 600,
        });
      },
    });
  },
  { name: 'cors' },
);
