import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import helmet from '@fastify/helmet';
import { allowedHosts, type Config } from '../../config/config.js';
import { BadRequestError, DomainError, ForbiddenError } from '../../shared/errors.js';

/** Content types a browser may send cross-site without a preflight (CORS "simple" requests). */
const SIMPLE_CONTENT_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

const hostName = (host: string) => host.replace(/:\d+$/, '').toLowerCase();

/** The Host header's name (no port), '' when missing. */
export function requestHostName(host: string | undefined): string {
  return host ? hostName(host) : '';
}

/**
 * What a browser on another site (or a DNS-rebound name) must not be able to do:
 * - a Host header outside ALLOWED_HOSTS is a 400 (a rebound name reaches the API with its own Host);
 * - a write (POST, PUT, PATCH, DELETE) with an Origin that is neither this API's own nor in
 *   `allowedOrigins` is a 403, whatever it carries;
 * - a write from a browser (it sent an Origin) with a body of a type a form or a no-preflight
 *   fetch can send (text/plain, form, multipart) is a 415: JSON, or an upload's own type.
 * Security headers come from @fastify/helmet.
 */
async function requestGuards(app: FastifyInstance, opts: { config: Config; allowedOrigins?: readonly string[] }) {
  const hosts = allowedHosts(opts.config);
  const origins = new Set((opts.allowedOrigins ?? []).map((o) => o.toLowerCase()));
  const anyOrigin = origins.has('*');

  app.addHook('onRequest', async (request) => {
    const host = requestHostName(request.headers.host);
    if (hosts && !hosts.has(host)) {
      throw new BadRequestError('host_not_allowed', `the Host ${JSON.stringify(host)} is not one this API answers (ALLOWED_HOSTS)`);
    }
    if (['GET', 'HEAD', 'OPTIONS'].includes(request.method)) return;
    const origin = request.headers.origin;
    if (origin === undefined) return;
    let sameOrigin = false;
    try {
      const from = new URL(origin);
      // Through URL both sides, so a default port written or not compares equal.
      sameOrigin = from.host === new URL(`${from.protocol}//${request.headers.host ?? ''}`).host;
    } catch {
      // "null" (sandboxed frames, file: pages) and garbage are cross-site.
    }
    if (!sameOrigin && !anyOrigin && !origins.has(origin.toLowerCase())) {
      throw new ForbiddenError(
        'cross_site_request',
        `a write from the origin ${JSON.stringify(origin)} is refused: only this API's own pages (and CORS_ORIGINS) may change anything`,
      );
    }
    const type = request.headers['content-type']?.split(';')[0]!.trim().toLowerCase();
    if (type !== undefined && SIMPLE_CONTENT_TYPES.has(type)) {
      throw new DomainError(
        415,
        'unsupported_media_type',
        `a browser write with content type ${type} is refused (a form could send it from any site): send application/json, or an upload's own type such as text/csv`,
      );
    }
  });

  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        upgradeInsecureRequests: null,
      },
    },
    // Models and weights are fetched by pages of CORS_ORIGINS (tf.loadLayersModel), which CORS governs.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    // Plain-HTTP deployments on a LAN would be locked out by HSTS; a TLS proxy sets its own.
    strictTransportSecurity: false,
  });
}

export default fp(requestGuards, { name: 'request-guards' });
