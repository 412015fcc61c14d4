import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort, startRedisServer, type PrivateRedis } from '../src/cli/redis-server.js';
import { pingRedis } from '../src/store/redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/**
 * Tests run against a real Redis: the one at REDIS_URL when it answers (CI starts one),
 * otherwise a private redis-server on a free port for this run.
 */
export default async function setup(project: TestProject) {
  const configured = process.env.REDIS_URL;
  if (configured && (await pingRedis(configured))) {
    project.provide('redisUrl', configured);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'descent-test-redis-'));
  const redis: PrivateRedis = await startRedisServer({ port: await freePort(), dir, appendOnly: false });
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
