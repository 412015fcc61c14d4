/** Entry of a worker process: `npm run worker`, or forked by `npm start`. */
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/shared/logger.js';
import { startWorker } from './worker-app.js';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL, 'descent-worker');

try {
  const worker = await startWorker(config, logger);
  process.send?.({ type: 'ready', backend: worker.backend.backend });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      void worker.close().then(() => process.exit(0));
    });
  }
} catch (err) {
  logger.fatal({ err }, 'worker failed to start');
  process.exit(1);
}
