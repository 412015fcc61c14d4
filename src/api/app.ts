import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { type Config, corsOriginList } from '../config/config.js';
import { DESCENT_VERSION } from '../shared/versions.js';
import { registerErrorHandling } from './error-handler.js';
import { documentFrameworkErrors, onClientError, onFrameworkError } from './framework-errors.js';
import { registerJsonParser } from './json-body.js';
import { ID_MAX_LENGTH } from './schemas.js';
import access from './plugins/access.js';
import corsPlugin from './plugins/cors.js';
import infrastructure from './plugins/infrastructure.js';
import metrics from './plugins/metrics.js';
import rateLimits from './plugins/rate-limit.js';
import requestGuards from './plugins/request-guards.js';
import { adminRoutes } from './routes/admin.js';
import { sessionRoutes } from './routes/session.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { discoveryRoutes } from './routes/discovery.js';
import { builtinDatasetRoutes } from './routes/builtin-datasets.js';
import { datasetRoutes } from './routes/datasets.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { experimentRoutes } from './routes/experiments.js';
import { modelSpecRoutes } from './routes/model-specs.js';
import { modelRoutes } from './routes/models.js';
import { optimizerRoutes } from './routes/optimizers.js';

export interface AppOptions {
  /** pino options or false; default: JSON logs at the configured level (to `stream` when given). */
  logger?: boolean | { level: string; stream?: { write(line: string): void } };
  /** false builds the routes without connecting anywhere (for generating openapi.yaml). */
  connect?: boolean;
}

/** Builds the API (never listens): server.ts, the tests and the OpenAPI generator share it. */
export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? { level: config.LOG_LEVEL },
    bodyLimit: config.BODY_LIMIT_BYTES,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: ID_MAX_LENGTH },
    frameworkErrors: onFrameworkError,
    clientErrorHandler: onClientError,
    // Slow clients: the whole request (headers and body) must arrive within requestTimeout, its
    // headers within headersTimeout; Node checks open requests at connectionsCheckingInterval.
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    http: {
      headersTimeout: config.HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(30_000, Math.ceil(config.HEADERS_TIMEOUT_MS / 4)),
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app);
  registerJsonParser(app, config.MAX_JSON_DEPTH);
  documentFrameworkErrors(app);

  await app.register(corsPlugin, { origins: config.CORS_ORIGINS });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Descent',
        version: DESCENT_VERSION,
        description:
          'Training as a service: submit neural-network training jobs, follow per-epoch metrics over server-sent events, ' +
          'compare optimizers, and predict with or download the trained model.',
      },
      tags: [
        { name: 'jobs', description: 'Training jobs' },
        { name: 'experiments', description: 'Experiments: searches and optimizer comparisons whose trials are jobs' },
        { name: 'datasets', description: 'Datasets: uploads and the built-in catalogue' },
        { name: 'models', description: 'Model specs (summaries, presets) and trained models' },
        { name: 'optimizers', description: 'The optimizer catalogue' },
        { name: 'health', description: 'Service health' },
        { name: 'admin', description: 'API keys, sessions, tenants and quotas' },
      ],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (`npm run keys -- create`), when AUTH is required.' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'descent_session',
            description: 'A browser session from POST /v1/session (writes also send X-CSRF-Token).',
          },
        },
      },
      security: [{ apiKey: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  await app.register(requestGuards, { config, allowedOrigins: corsOriginList(config.CORS_ORIGINS) });
  await app.register(access, { config });
  if (options.connect !== false) {
    await app.register(infrastructure, { config });
    await app.register(rateLimits, { config });
  }
  await app.register(metrics, { config });
  // Every answer names its request id (the client's x-request-id, or a new one), which the
  // API's logs and the job's worker logs carry too.
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await app.register(healthRoutes, { config });
  await app.register(sessionRoutes, { config });
  await app.register(adminRoutes);
  await app.register(jobRoutes);
  await app.register(eventRoutes);
  await app.register(experimentRoutes);
  await app.register(modelRoutes);
  await app.register(modelSpecRoutes);
  await app.register(optimizerRoutes);
  await app.register(builtinDatasetRoutes);
  await app.register(datasetRoutes, { uploadIdleMs: config.UPLOAD_IDLE_TIMEOUT_MS });
  await app.register(discoveryRoutes);
  await app.register(dashboardRoutes);
  return app;
}
