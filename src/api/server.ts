/** Entry of an API process: `npm run api`, or forked by `npm start`. */
import { authRequired, loadConfig } from '../config/config.js';
import { assertNoEviction, createRedis } from '../store/redis.js';
import { buildApp } from './app.js';

const config = loadConfig();
const app = await buildApp(config);

try {
  const redis = createRedis(config, { maxRetriesPerRequest: 3 });
  try {
    await assertNoEviction(redis);
  } finally {
    redis.disconnect();
  }
  const address = await app.listen({ port: config.PORT, host: config.HOST });
  if (!authRequired(config)) {
    app.log.warn(
      `AUTH IS OFF: no API keys are asked for; anyone who can reach ${address} controls every job and dataset. ` +
        'That is only allowed on loopback. Set AUTH=required (and create a key: npm run keys -- create --tenant T --scope admin) to share it.',
    );
  }
  process.send?.({ type: 'listening', address });
} catch (err) {
  app.log.fatal({ err }, 'API failed to start');
  process.exit(1);
}

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS).unref();
    app.close().then(
      () => {
        clearTimeout(force);
        process.exit(0);
      },
      () => process.exit(1),
    );
  });
}
