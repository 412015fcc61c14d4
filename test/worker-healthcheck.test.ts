import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../src/config/config.js';
import { createLogger } from '../src/shared/logger.js';
import { type RunningWorker, startWorker } from '../workers/worker-app.js';
import { testConfig } from './helpers.js';

const HEALTHCHECK = new URL('../workers/healthcheck.ts', import.meta.url).pathname;

/** Runs the compose health check as Docker does: a process of its own, judged by its exit code. */
function healthcheck(config: Config, heartbeatFile = config.WORKER_HEARTBEAT_FILE): Promise<{ code: number; output: string }> {
  const env = { ...process.env, REDIS_URL: config.REDIS_URL, REDIS_PREFIX: config.REDIS_PREFIX, WORKER_HEARTBEAT_FILE: heartbeatFile };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', HEALTHCHECK], { env }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

describe('worker health check (node dist/workers/healthcheck.js)', () => {
  let dir: string;
  let config: Config;
  let worker: RunningWorker;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'descent-healthcheck-'));
    config = testConfig({ WORKER_HEARTBEAT_FILE: join(dir, 'heartbeat.json') });
    worker = await startWorker(config, createLogger('warn', 'test-worker'));
  });
  afterAll(async () => {
    await worker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is healthy while this worker's heartbeat is live in the registry", async () => {
    const { code, output } = await healthcheck(config);
    expect(output).toContain(`healthy: worker ${worker.id}`);
    expect(code).toBe(0);
  });

  it('is unhealthy without the heartbeat note, since it cannot tell which worker is its own', async () => {
    const { code, output } = await healthcheck(config, join(dir, 'missing.json'));
    expect(output).toContain('unhealthy: no heartbeat note');
    expect(code).toBe(1);
    expect((await healthcheck(config, '')).code).toBe(1);
  });

  it('is unhealthy once the worker has left the registry, though its note is still on disk', async () => {
    await worker.close();
    const { code, output } = await healthcheck(config);
    expect(output).toContain(`unhealthy: worker ${worker.id} has no live entry`);
    expect(code).toBe(1);
  });
});
