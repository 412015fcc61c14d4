import { loadConfig } from '../config/config.js';
import { buildApp } from './app.js';

/** openapi.yaml as the routes' zod schemas define it (the committed file must equal this). */
export async function generateOpenApi(): Promise<string> {
  const app = await buildApp(loadConfig({}), { connect: false, logger: false });
  await app.ready();
  try {
    return app.swagger({ yaml: true });
  } finally {
    await app.close();
  }
}
