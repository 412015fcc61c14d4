import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort, startRedisServer, type PrivateRedis } from '../src/cli/redis-server.js';
import { startS3Server } from '../src/cli/s3-server.js';
import { pingRedis } from '../src/store/redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    s3: { endpoint: string; accessKeyId: string; secretAccessKey: string; bucket: string };
  }
}

/**
 * Tests run against a real Redis: the one at REDIS_URL when it answers (CI starts one),
 * otherwise a private redis-server on a free port for this run. And against a real S3 server:
 * versitygw (built once, cached) on a free port over a temp directory.
 */
export default async function setup(project: TestProject) {
  const cleanups: (() => Promise<void>)[] = [];
  const s3Dir = mkdtempSync(join(tmpdir(), 'descent-test-s3-'));
  const s3 = await startS3Server({ dir: s3Dir });
  project.provide('s3', { endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, bucket: s3.bucket });
  cleanups.push(async () => {
    await s3.stop();
    rmSync(s3Dir, { recursive: true, force: true });
  });
  const configured = process.env.REDIS_URL;
  if (configured && (await pingRedis(configured))) {
    project.provide('redisUrl', configured);
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'descent-test-redis-'));
    const redis: PrivateRedis = await startRedisServer({ port: await freePort(), dir, appendOnly: false });
    project.provide('redisUrl', redis.url);
    cleanups.push(async () => {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    });
  }
  return async () => {
    for (const cleanup of cleanups) await cleanup();
  };
}
