import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { inject } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { freePort, startRedisServer } from '../src/cli/redis-server.js';
import { type Config, loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/shared/logger.js';
import {
  type ExperimentEventType,
  type JobSpecInput,
  type LayerInput,
  type ResolvedJobSpec,
  type StoredJobSpec,
  experimentEventSchemas,
  jobSpecSchema,
  newJobEventSchema,
} from '../src/spec/index.js';
import { prepareSpec } from '../src/planning/index.js';
import { initBackend } from '../src/training/backend.js';
import { type RunningWorker, startWorker } from '../workers/worker-app.js';
import { startProcess } from './processes.js';

const tempDirs: string[] = [];

/** A fresh temporary directory, removed when the test file ends (test/setup.ts). */
export function tempDir(prefix = 'descent-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A config of its own per test: unique Redis key prefix (queues included) and data directory. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: `test-${randomUUID().slice(0, 8)}`,
    DATA_DIR: tempDir(),
    LOG_LEVEL: 'warn',
    TFJS_BACKEND: process.env.TFJS_BACKEND ?? 'auto',
    ...overrides,
  });
}

/** Settings of the test run's S3 server, under a prefix of this test's own (ARTIFACT_STORE and friends). */
export function s3Settings(): Record<string, string> {
  const s3 = inject('s3');
  return {
    ARTIFACT_STORE: `s3://${s3.bucket}/test-${randomUUID().slice(0, 8)}`,
    S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
}

export interface Stack {
  config: Config;
  app: FastifyInstance;
  worker?: RunningWorker;
  close(): Promise<void>;
}

export async function startStack(options: { worker?: boolean; config?: Config } = {}): Promise<Stack> {
  const config = options.config ?? testConfig();
  const app = await buildApp(config, { logger: false });
  await app.ready();
  const worker = options.worker === false ? undefined : await startWorker(config, createLogger('warn', 'test-worker'));
  return {
    config,
    app,
    worker,
    close: async () => {
      await app.close();
      await worker?.close();
    },
  };
}

/**
 * An API on a private Redis that the test stops and starts again (same port, same data
 * directory), for outages; `close` stops both and removes the directory.
 */
export async function startOutageStack(): Promise<{ app: FastifyInstance; stopRedis(): Promise<void>; startRedis(): Promise<void>; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'descent-outage-'));
  const port = await freePort();
  let redis = await startRedisServer({ port, dir });
  const app = await buildApp(testConfig({ REDIS_URL: redis.url }), { logger: false });
  await app.ready();
  return {
    app,
    stopRedis: () => redis.stop(),
    startRedis: async () => {
      redis = await startRedisServer({ port, dir });
    },
    close: async () => {
      await app.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A job spec input whose model lists its layers. */
export type LayeredSpecInput = Omit<JobSpecInput, 'model'> & { model: { inputShape: number[]; layers: LayerInput[] } };

export const xorSpec = (overrides: Partial<LayeredSpecInput> = {}): LayeredSpecInput => ({
  name: 'xor-adam',
  dataset: { builtin: 'xor' },
  model: {
    inputShape: [2],
    layers: [
      { type: 'dense', units: 8, activation: 'tanh' },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
  },
  loss: 'binaryCrossentropy',
  metrics: ['accuracy'],
  optimizer: { name: 'adam', learningRate: 0.05 },
  training: { epochs: 100, batchSize: 4, shuffle: true, validationSplit: 0, seed: 7 },
  ...overrides,
});

/** An upload body: `rows` rows of two numbers and a label, x or y. */
export const labelledCsv = (rows: number) => 'a,b,label\n' + Array.from({ length: rows }, (_, i) => `${i},${i + 1},${i % 2 ? 'x' : 'y'}`).join('\n') + '\n';

/** xorSpec on `rows` inline samples instead of the builtin data, one epoch. */
export function inlineXorSpec(rows: number): LayeredSpecInput {
  const x = Array.from({ length: rows }, (_, i) => [i / rows, (i * 7) % 13]);
  return xorSpec({ name: 'inline-xor', dataset: { inline: { x, y: x.map(([a]) => [a! > 0.5 ? 1 : 0]) } }, training: { epochs: 1, batchSize: 8, seed: 1 } });
}

/**
 * A job that checkpoints and resumes in the fault tests: spirals, a small tanh net, seeded; 64
 * steps an epoch, long enough that a kill at epoch 10 lands mid-run on the graph engine too.
 */
export const recoverableSpec = (epochs: number, name = 'recoverable'): JobSpecInput => ({
  name,
  dataset: { builtin: 'spirals', samples: 512 },
  model: {
    inputShape: [2],
    layers: [
      { type: 'dense', units: 16, activation: 'tanh' },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
  },
  loss: 'binaryCrossentropy',
  metrics: ['accuracy'],
  optimizer: { name: 'adam', learningRate: 0.02 },
  training: { epochs, batchSize: 8, seed: 5 },
});

/** A job long enough to be caught running: many epochs of a small dataset. */
export const longSpec = (epochs = 5_000): JobSpecInput =>
  xorSpec({ name: 'long', dataset: { builtin: 'spirals', samples: 64 }, training: { epochs, batchSize: 8, seed: 3 } });

/** Three Gaussian clusters in 4 dimensions, as CSV with a text label column (an iris stand-in). */
export function clustersCsv(rows: number): string {
  let state = 12345;
  const uniform = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const names = ['north', 'east', 'south'];
  const centers = [
    [0, 3, 0, 1],
    [3, 0, 1, 0],
    [-3, -3, 2, 2],
  ];
  const lines = ['f1,f2,f3,f4,region'];
  for (let i = 0; i < rows; i++) {
    const k = i % 3;
    lines.push([...centers[k]!.map((c) => (c + uniform() - 0.5).toFixed(3)), names[k]].join(','));
  }
  return `${lines.join('\n')}\n`;
}

export interface SseEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

/** Checks one event of a stream against its schema; returns its data. */
type EventCheck = (type: string, data: unknown) => Record<string, unknown>;
const jobEventCheck: EventCheck = (type, data) => newJobEventSchema.parse({ type, data }).data as Record<string, unknown>;
export const experimentEventCheck: EventCheck = (type, data) => {
  const schema = experimentEventSchemas[type as ExperimentEventType];
  if (!schema) throw new Error(`unknown experiment event type ${type}`);
  return schema.parse(data) as Record<string, unknown>;
};

/** Parses a text/event-stream body into its events (comments dropped); each must match its event schema (a job's by default). */
export function parseSse(text: string, check: EventCheck = jobEventCheck): SseEvent[] {
  return text
    .split('\n\n')
    .map((block) => {
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const i = line.indexOf(':');
        fields[line.slice(0, i)] = line.slice(i + 1).trimStart();
      }
      return fields;
    })
    .filter((f) => f.event !== undefined)
    .map((f) => ({ id: f.id!, event: f.event!, data: check(f.event!, JSON.parse(f.data ?? '{}')) }));
}

export async function submit(app: FastifyInstance, spec: JobSpecInput): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/jobs', payload: spec });
  if (res.statusCode !== 202) throw new Error(`submit failed: ${res.statusCode} ${res.body}`);
  return res.json<{ id: string }>().id;
}

/** Follows the job's event stream to its end (the server closes it after the terminal event). */
export async function eventsUntilEnd(app: FastifyInstance, id: string, lastEventId?: string, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const res = await app.inject({
    method: 'GET',
    url: `/v1/jobs/${id}/events`,
    headers: { ...headers, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
  });
  if (res.statusCode !== 200) throw new Error(`events failed: ${res.statusCode} ${res.body}`);
  return parseSse(res.body);
}

/**
 * Reads a live event stream over real HTTP, event by event, until `until` says stop; then
 * drops the connection (as a client that goes away does).
 */
export async function readLive(
  baseUrl: string,
  id: string,
  until: (e: SseEvent, all: SseEvent[]) => boolean,
  headers: Record<string, string> = {},
  resource: 'jobs' | 'experiments' = 'jobs',
): Promise<{ events: SseEvent[]; ended: boolean }> {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}/v1/${resource}/${id}/events`, { headers, signal: controller.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { events, ended: true };
    buffer += decoder.decode(value, { stream: true });
    const cut = buffer.lastIndexOf('\n\n');
    if (cut < 0) continue;
    const complete = parseSse(buffer.slice(0, cut + 2), resource === 'experiments' ? experimentEventCheck : jobEventCheck);
    buffer = buffer.slice(cut + 2);
    for (const e of complete) {
      events.push(e);
      if (until(e, events)) {
        controller.abort();
        await reader.cancel().catch(() => {});
        return { events, ended: false };
      }
    }
  }
}

/** A spec as the API resolves it before queueing (the engine's input), for engine-level tests. */
export function resolveSpec(input: unknown, seed = 1): ResolvedJobSpec {
  const { prepared, issues } = prepareSpec(jobSpecSchema.parse(input));
  if (!prepared) throw new Error(`invalid spec: ${JSON.stringify(issues)}`);
  return { ...prepared, training: { ...prepared.training, seed: prepared.training.seed ?? seed, maxRuntimeSeconds: 3_600 } };
}

/** A resolved spec as job records store it, for store-level tests (its data must not be inline: the jobs service stores that). */
export function resolveStoredSpec(input: unknown, seed = 1): StoredJobSpec {
  const spec = resolveSpec(input, seed);
  if (spec.dataset.inline || spec.training.validationData?.inline) throw new Error('inline data goes to the artifact store through the jobs service');
  return spec as StoredJobSpec;
}

/** Selects the tfjs backend for engine-level tests in this process, as a worker would (TFJS_BACKEND). */
export async function initTestBackend(): Promise<void> {
  await initBackend(loadConfig({ TFJS_BACKEND: process.env.TFJS_BACKEND }).TFJS_BACKEND);
}

export const epochsOf = (events: SseEvent[]) => events.filter((e) => e.event === 'epoch').map((e) => e.data.epoch);

/**
 * Starts a worker as a process of its own on the config's Redis prefix and data directory (to kill
 * it for real); resolves once it reports ready. `env` adds settings (fault timings).
 */
export async function spawnWorker(config: Config, env: Record<string, string> = {}): Promise<{ child: ChildProcess; exited: Promise<unknown> }> {
  const c = config;
  const worker = startProcess('workers/worker.ts', {
    REDIS_URL: c.REDIS_URL,
    REDIS_PREFIX: c.REDIS_PREFIX,
    DATA_DIR: c.DATA_DIR,
    TFJS_BACKEND: c.TFJS_BACKEND,
    ...env,
  });
  await worker.ready;
  return { child: worker.child, exited: worker.exited };
}

/** After a hostile request: the API still answers health checks and takes a valid spec. */
export async function expectHealthy(app: FastifyInstance): Promise<void> {
  const health = await app.inject('/healthz');
  if (health.statusCode !== 200) throw new Error(`healthz answered ${health.statusCode} ${health.body}`);
  const summary = await app.inject({ method: 'POST', url: '/v1/models/summary', payload: xorSpec() });
  if (summary.statusCode !== 200) throw new Error(`a valid summary answered ${summary.statusCode} ${summary.body}`);
}
