import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { serialize } from 'cookie';
import { parse as parseCookies } from 'cookie';
import { z } from 'zod';
import { authRequired, type Config } from '../../config/config.js';
import { scopeSchema, tenantSchema } from '../../shared/access.js';
import { UnauthorizedError } from '../../shared/errors.js';
import { CSRF_HEADER, OPEN_PRINCIPAL, SESSION_COOKIE } from '../plugins/access.js';
import { errorResponses, noContentSchema } from '../schemas.js';

const sessionSchema = z
  .object({
    auth: z.enum(['required', 'off']).describe('Whether this API asks for keys.'),
    tenant: tenantSchema,
    scope: scopeSchema,
    csrfToken: z.string().nullable().describe(`Send it in ${CSRF_HEADER} with every write made with the session cookie.`),
    expiresAt: z.string().nullable(),
  })
  .meta({ id: 'Session' });

/**
 * Browser sessions, for the dashboard: EventSource cannot send an Authorization header, and a
 * long-lived key must not sit in URLs or in script-readable storage. POST a key once; the API sets
 * an HttpOnly, SameSite=Strict cookie that stands for it, and returns a CSRF token that writes
 * made with the cookie must carry.
 */
export async function sessionRoutes(app: FastifyInstance, opts: { config: Config }): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const required = authRequired(opts.config);
  const ttl = opts.config.SESSION_TTL_SECONDS;
  const cookie = (request: FastifyRequest, value: string, maxAge: number) =>
    serialize(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'strict', path: '/', maxAge, secure: request.protocol === 'https' });
  const open = { auth: 'off' as const, tenant: OPEN_PRINCIPAL.tenant, scope: OPEN_PRINCIPAL.scope, csrfToken: null, expiresAt: null };

  r.post(
    '/v1/session',
    {
      config: { access: { public: true } },
      schema: {
        tags: ['admin'],
        summary: 'Sign a browser in with an API key: sets an HttpOnly session cookie',
        body: z.object({ key: z.string().min(1).max(200) }),
        response: { 201: sessionSchema, ...errorResponses(400, 401, 403, 415, 503) },
      },
    },
    async (request, reply) => {
      if (!required) return reply.code(201).send(open);
      const info = await app.apiKeys.verify(request.body.key);
      if (!info) throw new UnauthorizedError('the API key is not valid (malformed, unknown or revoked)');
      const { sessionId, session } = await app.sessions.create(info.id, ttl);
      reply.header('set-cookie', cookie(request, sessionId, ttl));
      return reply.code(201).send({ auth: 'required', tenant: info.tenant, scope: info.scope, csrfToken: session.csrfToken, expiresAt: session.expiresAt });
    },
  );

  const sessionId = (request: FastifyRequest) => (request.headers.cookie ? parseCookies(request.headers.cookie)[SESSION_COOKIE] : undefined);

  r.get(
    '/v1/session',
    {
      config: { access: { scope: 'read' } },
      schema: {
        tags: ['admin'],
        summary: "Who the caller is (and a session's CSRF token, for a reloaded page)",
        response: { 200: sessionSchema, ...errorResponses(401, 503) },
      },
    },
    async (request) => {
      if (!required) return open;
      const id = sessionId(request);
      const session = request.principal.via === 'session' && id ? await app.sessions.get(id) : undefined;
      const { tenant, scope } = request.principal;
      return { auth: 'required' as const, tenant, scope, csrfToken: session?.csrfToken ?? null, expiresAt: session?.expiresAt ?? null };
    },
  );

  r.delete(
    '/v1/session',
    {
      config: { access: { scope: 'read' } },
      schema: {
        tags: ['admin'],
        summary: 'Sign out: ends the session and clears its cookie',
        response: { 204: noContentSchema, ...errorResponses(401, 403, 503) },
      },
    },
    async (request, reply: FastifyReply) => {
      const id = sessionId(request);
      if (id) await app.sessions.remove(id);
      reply.header('set-cookie', cookie(request, '', 0));
      return reply.code(204).send();
    },
  );
}
