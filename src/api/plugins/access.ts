import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parse as parseCookies } from 'cookie';
import { authRequired, type Config } from '../../config/config.js';
import { DEFAULT_TENANT, type Principal, type Scope, scopeIncludes } from '../../shared/access.js';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../../shared/errors.js';
import { errorResponses } from '../schemas.js';

/** The kinds of resource a tenant owns; a route with an `:id` of one of them is guarded by its owner. */
export type OwnedKind = 'job' | 'dataset' | 'experiment';

/** Who may call a route: declared in its `config.access`, or derived from its method and URL. */
export interface AccessConfig {
  /** Open without a key (probes, the session login). */
  public?: boolean;
  /** The scope the route needs (default: read for GET/HEAD, admin under /v1/admin, else write). */
  scope?: Scope;
  /** The kind of resource `:id` names; only its tenant (or an admin) gets past a 404. */
  owner?: OwnedKind;
  /** The route's parameters name something every tenant shares (a catalogue entry), not a tenant's resource. */
  shared?: boolean;
  /** Prometheus metrics: open, or behind METRICS_TOKEN (its own token, not an API key) when that is set. */
  metrics?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: AccessConfig;
  }
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyInstance {
    /** The tenant each kind of resource belongs to, by id (undefined: no such resource). */
    owners: Partial<Record<OwnedKind, (id: string) => Promise<string | undefined>>>;
  }
}

export const SESSION_COOKIE = 'descent_session';
export const CSRF_HEADER = 'x-csrf-token';

/** Routes whose `:id` names a tenant's resource, by URL prefix. */
const OWNED_PREFIXES: readonly [string, OwnedKind][] = [
  ['/v1/jobs/:id', 'job'],
  ['/v1/datasets/:id', 'dataset'],
  ['/v1/experiments/:id', 'experiment'],
];

/**
 * Pages and assets that hold no tenant's data: the dashboard (it must load to show its sign-in),
 * its libraries, the API reference and the OpenAPI document.
 */
const PUBLIC_PAGES = (url: string) =>
  url === '/' || url === '/openapi.json' || url === '/openapi.yaml' || url === '/docs' || ['/dashboard/', '/vendor/', '/docs/'].some((p) => url.startsWith(p));

/** Liveness and readiness probes: open whatever AUTH says (orchestrators carry no keys). */
const PROBES = new Set(['/healthz', '/readyz']);
export const METRICS_PATH = '/metrics';

const UNSAFE = (method: string) => !['GET', 'HEAD', 'OPTIONS'].includes(method);

/** The access rule of a route; throws at start-up for a route with parameters whose owner is unknown (fail closed). */
export function routeAccess(method: string, url: string, declared: AccessConfig | undefined): Required<Pick<AccessConfig, 'scope'>> & AccessConfig {
  if (method === 'OPTIONS') return { public: true, scope: 'read' }; // CORS preflights carry no credentials
  if ((PUBLIC_PAGES(url) || PROBES.has(url)) && ['GET', 'HEAD'].includes(method)) return { public: true, scope: 'read' };
  if (url === METRICS_PATH) return { public: true, metrics: true, scope: 'read' };
  const scope = declared?.scope ?? (url.startsWith('/v1/admin') ? 'admin' : UNSAFE(method) ? 'write' : 'read');
  const owner = declared?.owner ?? OWNED_PREFIXES.find(([prefix]) => url === prefix || url.startsWith(`${prefix}/`))?.[1];
  if (!declared?.public && !declared?.shared && !owner && url.includes('/:') && scope !== 'admin') {
    throw new Error(`route ${method} ${url} has parameters but no owner kind: declare config.access.owner (or shared, or make it admin-only)`);
  }
  return { ...declared, scope, ...(owner ? { owner } : {}) };
}

/** The caller when AUTH is off: the default tenant, with every right. */
export const OPEN_PRINCIPAL: Principal = { tenant: DEFAULT_TENANT, scope: 'admin', keyId: null, via: 'none' };

/**
 * Authentication and tenancy for every route: `Authorization: Bearer <key>` or a session cookie
 * (with its CSRF token on writes) becomes `request.principal`; the route's scope is checked; and
 * a route on another tenant's resource is a 404, exactly as if it did not exist.
 */
async function access(app: FastifyInstance, opts: { config: Config }) {
  const required = authRequired(opts.config);
  app.decorateRequest('principal', null as unknown as Principal);
  app.decorate('owners', {});

  const guarded = new Set<OwnedKind>();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const rule = routeAccess(methods[0]!, route.url, route.config?.access);
    if (rule.owner) guarded.add(rule.owner);
    route.config = { ...route.config, access: rule };
    // Every guarded route can answer 401, 403 and 429: documented once here rather than per route.
    if (rule.public && route.schema) route.schema = { ...route.schema, security: [] };
    if (!rule.public && route.schema?.response && typeof route.schema.response === 'object') {
      route.schema = { ...route.schema, response: { ...errorResponses(401, 403, 429), ...(route.schema.response as object) } };
    }
  });

  const authenticate = async (request: FastifyRequest): Promise<Principal> => {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const key = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
      const info = key ? await app.apiKeys.verify(key) : undefined;
      if (!info) throw new UnauthorizedError('the API key is not valid (malformed, unknown or revoked)');
      return { tenant: info.tenant, scope: info.scope, keyId: info.id, via: 'bearer' };
    }
    const sessionId = request.headers.cookie ? parseCookies(request.headers.cookie)[SESSION_COOKIE] : undefined;
    if (sessionId) {
      const session = await app.sessions.get(sessionId);
      const info = session ? await app.apiKeys.get(session.keyId) : undefined;
      if (!session || !info) throw new UnauthorizedError('the session has ended (signed out, expired, or its key revoked); sign in again');
      // A cookie rides along on any request the browser makes; the token only this origin's pages can read.
      if (UNSAFE(request.method) && request.headers[CSRF_HEADER] !== session.csrfToken) {
        throw new ForbiddenError('csrf_token_invalid', `a write with the session cookie needs the session's token in ${CSRF_HEADER}`);
      }
      return { tenant: info.tenant, scope: info.scope, keyId: info.id, via: 'session' };
    }
    throw new UnauthorizedError('this route needs an API key: send Authorization: Bearer <key>');
  };

  // A route on a kind of resource whose owner nobody can tell would leak it: refuse to start.
  app.addHook('onReady', async () => {
    if (!app.hasDecorator('redis')) return; // built without connecting (the OpenAPI generator)
    const missing = [...guarded].filter((kind) => !app.owners[kind]);
    if (missing.length > 0) throw new Error(`routes name ${missing.join(', ')} ids but app.owners has no lookup of their tenant`);
  });

  const metricsToken = opts.config.METRICS_TOKEN ? createHash('sha256').update(opts.config.METRICS_TOKEN).digest() : undefined;

  app.addHook('onRequest', async (request) => {
    const rule = request.routeOptions.config.access;
    if (rule?.metrics && metricsToken) {
      const sent = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1] ?? '';
      if (!timingSafeEqual(createHash('sha256').update(sent).digest(), metricsToken)) {
        throw new UnauthorizedError(`${METRICS_PATH} needs Authorization: Bearer <METRICS_TOKEN>`);
      }
    }
    if (!required) {
      request.principal = OPEN_PRINCIPAL;
      return;
    }
    if (rule?.public) return;
    request.principal = await authenticate(request);
    const scope = rule?.scope ?? 'read';
    if (!scopeIncludes(request.principal.scope, scope)) {
      throw new ForbiddenError('insufficient_scope', `this route needs a key with scope ${scope}; this key has ${request.principal.scope}`);
    }
  });

  // Before validation, so another tenant learns nothing from how its request body is judged.
  app.addHook('preValidation', async (request) => {
    const owner = request.routeOptions.config.access?.owner;
    if (!owner || !request.principal || request.principal.scope === 'admin') return;
    const id = (request.params as { id?: string }).id ?? '';
    const lookUp = app.owners[owner];
    if (!lookUp) throw new Error(`no owner lookup for ${owner}`);
    if ((await lookUp(id)) !== request.principal.tenant) throw new NotFoundError(owner, id);
  });
}

export default fp(access, { name: 'access' });
