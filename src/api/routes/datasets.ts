import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { UPLOAD_CONTENT_TYPES } from '../../uploads/ingest.js';
import { datasetPageSchema, datasetRecordSchema, uploadOptionsSchema } from '../../spec/index.js';
import { closeWithError } from '../framework-errors.js';
import { errorResponses, idParamsSchema, noContentSchema } from '../schemas.js';
import { visibleTenant } from '../../shared/access.js';

const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(32).optional().describe('The `next` of the previous page.'),
});
const errors = errorResponses(400, 404, 503);

/**
 * Dataset uploads. The body is handed to the service as a stream (never buffered here), so this
 * plugin replaces the content-type parsers of its own routes with one that passes it through;
 * the service decides from the content type or `?format=` whether it can read it (else 415).
 */
export async function datasetRoutes(app: FastifyInstance, opts: { uploadIdleMs: number }): Promise<void> {
  const { uploadIdleMs } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    '/v1/datasets',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Upload a dataset (CSV, a JSON array of rows, or NDJSON; plain or gzip)',
        description:
          `The body is the file itself (\`curl --data-binary @iris.csv -H 'content-type: text/csv'\`), streamed and parsed as it ` +
          `arrives. Content types: ${UPLOAD_CONTENT_TYPES.join(', ')} (or any, with \`?format=\`); gzip as ` +
          '`Content-Encoding: gzip` or by its magic bytes. CSV: a header row names the columns (detected when none of its ' +
          'cells is a number); JSON: `[{"a": 1, "b": 2, "species": "setosa"}, ...]` or `[[1, 2, 0], ...]`; NDJSON: one such ' +
          'row per line. A malformed row is a 400 whose `details` give `row` (1-based data row), `line` and `column`; ' +
          'an upload over a limit is a 413 naming the limit.',
        querystring: uploadOptionsSchema,
        response: { 201: datasetRecordSchema, ...errorResponses(413, 415, 422), ...errors },
      },
    },
    async (request, reply) => {
      const length = request.headers['content-length'];
      // A body that stops arriving (a stalled or slow-loris client) is answered 408 and its
      // connection closed; requestTimeout bounds the whole request however slowly it trickles.
      // (Only on real sockets: app.inject has none.)
      const socket = request.raw.socket instanceof Socket ? request.raw.socket : undefined;
      const idle = () => socket && closeWithError(socket, 408, `no upload data arrived for ${uploadIdleMs} ms (UPLOAD_IDLE_TIMEOUT_MS)`);
      if (socket) request.raw.setTimeout(uploadIdleMs, idle);
      try {
        const record = await app.datasets.upload(
          {
            // Fastify parses no body when there is none (Content-Length: 0): an empty upload.
            stream: request.body instanceof Readable ? request.body : Readable.from([]),
            contentType: request.headers['content-type'],
            contentEncoding: request.headers['content-encoding'],
            contentLength: length === undefined ? undefined : Number(length),
          },
          request.query,
          request.principal.tenant,
        );
        reply.code(201);
        return record;
      } catch (err) {
        // The rest of a refused body is not worth reading: close the connection after the answer.
        if (!request.raw.readableEnded) reply.header('connection', 'close');
        throw err;
      } finally {
        request.raw.removeListener('timeout', idle);
        socket?.setTimeout(0);
      }
    },
  );

  r.get(
    '/v1/datasets',
    {
      schema: {
        tags: ['datasets'],
        summary: 'List uploaded datasets, newest first',
        querystring: listQuerySchema,
        response: { 200: datasetPageSchema, ...errors },
      },
    },
    async (request) => app.datasets.list(request.query, visibleTenant(request.principal)),
  );

  r.get(
    '/v1/datasets/:id',
    { schema: { tags: ['datasets'], summary: 'An uploaded dataset', params: idParamsSchema, response: { 200: datasetRecordSchema, ...errors } } },
    async (request) => app.datasets.get(request.params.id),
  );

  r.delete(
    '/v1/datasets/:id',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Delete an uploaded dataset (queued jobs that name it then fail with dataset_not_found)',
        params: idParamsSchema,
        response: { 204: noContentSchema, ...errors },
      },
    },
    async (request, reply) => {
      await app.datasets.remove(request.params.id);
      return reply.code(204).send();
    },
  );
}
