import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DESCENT_VERSION, PROJECT_ROOT } from '../../shared/versions.js';

const DASHBOARD_DIR = join(PROJECT_ROOT, 'dashboard');
const packageDir = (name: string) => dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));

/** Browser libraries the dashboard loads, served from their npm packages (no CDN: it works offline). */
const VENDOR = [
  { prefix: '/vendor/uplot/', root: join(packageDir('uplot'), 'dist') },
  { prefix: '/vendor/katex/', root: join(packageDir('katex'), 'dist') },
];

/** True when the client asks for JSON rather than a page (`Accept: application/json` before any text/html). */
export function prefersJson(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  const json = accept.indexOf('application/json');
  const html = accept.indexOf('text/html');
  return json >= 0 && (html < 0 || json < html);
}

/** The API's routes as the OpenAPI document lists them, for the JSON index at `/`. */
function apiIndex(app: FastifyInstance) {
  const doc = app.swagger() as { paths?: Record<string, Record<string, { summary?: string }>> };
  const endpoints = Object.entries(doc.paths ?? {}).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, summary: op.summary ?? '' })),
  );
  return {
    name: 'Descent',
    version: DESCENT_VERSION,
    description: 'Training as a service: submit training jobs, follow per-epoch metrics over server-sent events, compare optimizers.',
    links: { dashboard: '/', docs: '/docs', openapi: '/openapi.json', openapiYaml: '/openapi.yaml', health: '/healthz' },
    endpoints,
  };
}

/**
 * The dashboard at `/` (plain ES modules from dashboard/, no build step) and a JSON index of
 * the API for `Accept: application/json`.
 */
export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: DASHBOARD_DIR, prefix: '/dashboard/', index: false, schemaHide: true });
  for (const { prefix, root } of VENDOR) {
    await app.register(fastifyStatic, { root, prefix, decorateReply: false, index: false, schemaHide: true });
  }
  app.get('/', { schema: { hide: true } }, async (request, reply) => {
    if (prefersJson(request)) return reply.type('application/json').send(JSON.stringify(apiIndex(app)));
    return reply.sendFile('index.html', DASHBOARD_DIR, { cacheControl: false });
  });
}
