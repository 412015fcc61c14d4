/**
 * One API process for the `api` and `sse` parts, so the load generator and the clients do not
 * share its event loop. Reads the Redis URL from argv[2], listens on a free loopback port and
 * reports its URL over IPC; exits when the parent disconnects.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config/config.js';

const config = loadConfig({ REDIS_URL: process.argv[2]!, DATA_DIR: mkdtempSync(join(tmpdir(), 'descent-bench-api-')), LOG_LEVEL: 'warn' });
const app = await buildApp(config, { logger: false });
const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.send!({ type: 'listening', url });
process.on('disconnect', () => {
  void app.close().finally(() => process.exit(0));
});
