import type { FastifyInstance } from 'fastify';
import { DomainError } from '../shared/errors.js';
import { jsonDepth } from '../shared/json-depth.js';

/**
 * The API's JSON body parser: Fastify's own (prototype-poisoning checks included), behind two
 * rules of Descent's. An empty body is no body, so action endpoints (`POST .../cancel`) work
 * with the `content-type: application/json` many clients send by default; and a body nesting
 * deeper than `maxDepth` is a 400 before JSON.parse, zod or any recursive code sees it.
 */
export function registerJsonParser(app: FastifyInstance, maxDepth: number): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    if (jsonDepth(text, maxDepth) > maxDepth) {
      return done(new DomainError(400, 'json_too_deep', `the JSON body nests arrays or objects deeper than MAX_JSON_DEPTH=${maxDepth}`), undefined);
    }
    void parse(request, text, done);
  });
}
