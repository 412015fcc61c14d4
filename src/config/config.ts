import { z } from 'zod';

/**
 * The one place that reads the environment. Every variable has a default and a
 * description; `npm start`, the API, workers and tests all parse through this schema.
 */
const ORIGIN = /^https?:\/\/[^/\s,]+$/;

/** The origins CORS_ORIGINS names (empty: none). */
export const corsOriginList = (value: string): string[] =>
  value
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def);

export const configSchema = z
  .object({
    PORT: int(3000).describe('TCP port the API listens on.'),
    HOST: z.string().default('127.0.0.1').describe('Interface the API binds to (0.0.0.0 in containers).'),
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379').describe('Redis holding queues, job records and event streams.'),
    REDIS_PREFIX: z
      .string()
      .regex(/^([A-Za-z0-9_.-]+|\{[A-Za-z0-9_.-]+\})$/)
      .default('descent')
      .describe(
        'Prefix of every Redis key Descent writes; lets several deployments share one Redis. In braces (`{descent}`) it is a Redis Cluster hash tag: every key in one slot.',
      ),
    REDIS_SENTINELS: z
      .string()
      .regex(/^$|^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/, 'a comma-separated list of host:port')
      .default('')
      .describe(
        "Redis Sentinels as host:port,host:port: every connection asks them for the current primary of REDIS_MASTER_NAME and follows a failover ('' = connect to REDIS_URL directly; REDIS_URL then only gives the password and database).",
      ),
    REDIS_MASTER_NAME: z.string().min(1).default('mymaster').describe("The Sentinel master name of Descent's Redis (with REDIS_SENTINELS)."),
    REDIS_WAIT_REPLICAS: int(0, 0).describe(
      'Before the API answers a job submission, a cancel or a dataset upload, wait (Redis WAIT) until this many replicas have its writes, so a failover cannot lose what the client was told (0 = do not wait; see docs/running-on-several-machines.md).',
    ),
    REDIS_WAIT_TIMEOUT_MS: int(1_000, 1).describe(
      'Longest a REDIS_WAIT_REPLICAS wait takes; past it the API answers anyway (the write stands on the primary alone) and logs a warning.',
    ),
    DATA_DIR: z
      .string()
      .default('./data')
      .describe(
        'Local working directory: the artifact store unless ARTIFACT_STORE says otherwise, the artifact cache, upload temp files and the private Redis, when one is started.',
      ),
    ARTIFACT_STORE: z
      .string()
      .regex(/^$|^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[A-Za-z0-9_./-]*)?$/, 'empty (DATA_DIR/artifacts) or s3://bucket/prefix')
      .default('')
      .describe(
        "Where models, checkpoints and uploaded datasets live: '' = DATA_DIR/artifacts (one machine), or s3://bucket/prefix (shared by API and workers on several machines).",
      ),
    S3_ENDPOINT: z
      .string()
      .regex(/^$|^https?:\/\/\S+$/, 'empty or an http(s) URL')
      .default('')
      .describe("S3-compatible server for ARTIFACT_STORE=s3://... other than AWS (MinIO, Ceph, versitygw, ...), addressed path-style ('' = AWS)."),
    AWS_REGION: z.string().default('us-east-1').describe('Region of the ARTIFACT_STORE bucket.'),
    AWS_ACCESS_KEY_ID: z
      .string()
      .default('')
      .describe("Access key for ARTIFACT_STORE=s3://... ('' = the AWS SDK's default credential chain: profile, instance role, ...)."),
    AWS_SECRET_ACCESS_KEY: z.string().default('').describe('Secret key belonging to AWS_ACCESS_KEY_ID.'),
    ARTIFACT_CACHE_MB: int(2_048, 0).describe(
      'With an s3:// ARTIFACT_STORE: disk a worker host uses under DATA_DIR/cache for models and datasets it reads (0 = no cache).',
    ),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level.'),
    TFJS_BACKEND: z
      .enum(['auto', 'tensorflow', 'cpu'])
      .default('auto')
      .describe('Training backend: `tensorflow` (native, @tensorflow/tfjs-node), `cpu` (pure JS), or `auto` (native if it loads).'),
    TF_CPP_MIN_LOG_LEVEL: z
      .enum(['0', '1', '2', '3'])
      .default('2')
      .describe("Native TensorFlow's own log level (2 = errors only); passed to training processes."),
    TF_NUM_INTRAOP_THREADS: z
      .string()
      .regex(/^\d*$/)
      .default('')
      .describe("Native TensorFlow's threads per op ('' = TensorFlow's choice; 1 is often faster for small models on few cores)."),
    TF_NUM_INTEROP_THREADS: z.string().regex(/^\d*$/).default('').describe("Native TensorFlow's threads across ops ('' = TensorFlow's choice)."),
    TF_ENABLE_ONEDNN_OPTS: z.enum(['', '0', '1']).default('').describe("'0' turns oneDNN off (faster per op for tiny models; '' = TensorFlow's default)."),
    WORKERS: int(1, 0).describe('Training worker processes `npm start` runs beside the API (0 = API only).'),
    WORKER_CONCURRENCY: int(1, 1).describe('Training jobs one worker process runs at once (each in its own child process).'),
    WORKER_HEARTBEAT_FILE: z
      .string()
      .default('')
      .describe("A file on the worker's own disk naming the worker, rewritten with every heartbeat; `node dist/workers/healthcheck.js` reads it ('' = none)."),
    JOB_ATTEMPTS: int(3, 1).describe(
      'Attempts a job gets: a crash (of its training process or its worker), a lost Redis, an artifact store fault or a start that fails spends one; a worker shutdown does not.',
    ),
    MAX_RUNTIME_SECONDS: int(86_400, 1).describe('Longest a job may train (its default `training.maxRuntimeSeconds`, and the cap on it).'),
    CHILD_MAX_MEMORY_MB: int(8_192, 64).describe('Memory (RSS) one training process may use before its job fails with out_of_memory.'),
    LOCK_DURATION_MS: int(6_000, 1_000).describe('BullMQ job lock: a worker that stops renewing it (crashed) loses the job after this long.'),
    STALLED_INTERVAL_MS: int(3_000, 500).describe('How often workers look for jobs whose worker died, to run them again.'),
    CHECKPOINT_EVERY_EPOCHS: int(1, 1).describe('Checkpoint (weights, optimizer state, history) after every N-th epoch.'),
    CHECKPOINT_MIN_INTERVAL_MS: int(1_000, 0).describe(
      'Skip a checkpoint when the previous one is younger than this (fast epochs); the last epoch is always saved.',
    ),
    JOB_RETENTION_HOURS: int(168, 0).describe('Finished jobs (record, events, model) older than this are deleted (0: kept forever).'),
    JOB_RETENTION_COUNT: int(10_000, 0).describe('At most this many finished jobs are kept, the newest (0: no limit).'),
    ORPHAN_GRACE_MINUTES: int(60, 1).describe(
      'Artifacts of a job, experiment or uploaded dataset that has no record (its process died between storing them and recording it) are deleted by the retention sweep once the newest is this old. Longer than any upload takes to store its arrays, and than the clock skew between workers and an S3 store.',
    ),
    MAX_EPOCHS: int(10_000, 1).describe('Largest `training.epochs` a job may ask for.'),
    MAX_LAYERS: int(64, 1).describe('Most layers one model may have.'),
    MAX_UNITS: int(4096, 1).describe('Most units (or filters) one layer may have.'),
    MAX_INLINE_SAMPLES: int(10_000, 1).describe('Most samples an inline dataset may carry.'),
    MAX_BUILTIN_SAMPLES: int(100_000, 1).describe('Most samples a built-in synthetic dataset may be asked to generate.'),
    MAX_PARAMS: int(50_000_000, 1).describe('Most parameters (weights) one model may have.'),
    MAX_FLOPS_PER_SAMPLE: int(10_000_000_000, 1).describe(
      "Most floating-point operations one sample's forward pass may take (POST /v1/models/summary shows a model's).",
    ),
    MAX_TRAINING_MEMORY_MB: int(4_096, 1).describe(
      'Most memory a job may need by the estimate of POST /v1/models/summary (weights, gradients, optimizer state, one batch of activations).',
    ),
    MAX_SAMPLE_EPOCHS: int(100_000_000, 1).describe('Most samples x epochs one job may train on.'),
    MAX_TRIALS: int(200, 1).describe("Most trials one experiment may have (the protocol's reruns included); checked before anything is queued."),
    EXPERIMENT_SWEEP_MS: int(2_000, 100).describe('How often each worker reconciles running experiments (decisions and queueing missed when a process died).'),
    MAX_PREDICT_INPUTS: int(10_000, 1).describe('Most input rows one predict request may carry.'),
    MAX_PREDICT_OUTPUT_VALUES: int(1_000_000, 1).describe(
      'Most output values (rows x outputs per row) one predict request may ask for; more is a 422 before it runs.',
    ),
    PREDICT_CACHE_MB: int(1_024, 1).describe("Memory a worker's predict process may keep loaded models in (their weights); the least recently used go first."),
    BODY_LIMIT_BYTES: int(16 * 1024 * 1024, 1024).describe('Largest request body the API accepts.'),
    MAX_LIST_RESPONSE_BYTES: int(8 * 1024 * 1024, 1024).describe('A page of GET /v1/jobs ends early once its records reach this size (it always holds one).'),
    REQUEST_TIMEOUT_MS: int(300_000, 100).describe(
      'A request (headers and body, uploads included) must arrive within this long, however slowly it trickles; else 408 and the connection closes.',
    ),
    HEADERS_TIMEOUT_MS: int(20_000, 100).describe("A request's headers must arrive within this long (at most REQUEST_TIMEOUT_MS); else 408."),
    UPLOAD_IDLE_TIMEOUT_MS: int(30_000, 100).describe('An upload whose body sends nothing for this long is answered 408 and its connection closed.'),
    MAX_JSON_DEPTH: int(32, 4, 1_000).describe('Deepest nesting of arrays and objects a JSON body may have (deeper is a 400 before it is parsed).'),
    MAX_UPLOAD_BYTES: int(256 * 1024 * 1024, 1024).describe('Largest dataset upload body, as sent (compressed size for gzip); streamed, never held in memory.'),
    MAX_UPLOAD_DECOMPRESSED_BYTES: int(512 * 1024 * 1024, 1024).describe('Most bytes of CSV/JSON text an upload may decompress to (stops gzip bombs).'),
    MAX_DATASET_ROWS: int(1_000_000, 1).describe('Most rows (samples) one uploaded dataset may have.'),
    MAX_DATASET_COLUMNS: int(16_384, 2).describe('Most columns one uploaded dataset may have.'),
    MAX_DATASET_CLASSES: int(1_000, 2).describe('Most distinct classes of an uploaded dataset label column.'),
    PREDICT_TIMEOUT_MS: int(30_000, 100).describe('How long a predict request waits for a worker before answering 503.'),
    SSE_HEARTBEAT_MS: int(10_000, 100, 14_000).describe('Interval of SSE comment lines while no event is sent (at most 14000).'),
    EVENT_STREAM_MAXLEN: int(20_000, 100).describe(
      'Approximate cap on events kept per job stream (at least MAX_EPOCHS + 100, so no event of a job is trimmed).',
    ),
    CANCEL_GRACE_MS: int(2_000, 0).describe('How long a cancelled training process may take to stop before it is killed.'),
    REDIS_CONNECT_TIMEOUT_MS: int(5_000, 0).describe('How long the API waits for Redis at start before it listens anyway (answering 503 until Redis is up).'),
    CORS_ORIGINS: z
      .string()
      .default('')
      .refine((v) => corsOriginList(v).every((o) => o === '*' || ORIGIN.test(o)), 'comma-separated origins such as https://app.example.com:8080, or *')
      .describe(
        'Origins (scheme://host[:port], comma-separated) whose pages may call the API from a browser: fetch, EventSource, tf.loadLayersModel. `*` allows any. Empty: only the dashboard served by the API itself.',
      ),
    SHUTDOWN_TIMEOUT_MS: int(30_000, 0).describe('How long shutdown waits for in-flight work before it forces exit.'),
    AUTH: z
      .enum(['auto', 'required', 'off'])
      .default('auto')
      .describe(
        'API keys: `required` (every route but the probes needs `Authorization: Bearer <key>`), `off` (one default tenant; loopback HOST only), or `auto`: required unless HOST is loopback.',
      ),
    ALLOWED_HOSTS: z
      .string()
      .default('')
      .describe(
        "Host header values the API answers (comma-separated; `*` any), against DNS rebinding. '' = localhost, 127.0.0.1 and [::1] when HOST is loopback, any otherwise (keys are required then).",
      ),
    METRICS_TOKEN: z.string().default('').describe("Bearer token /metrics asks for ('' = /metrics is open)."),
    SESSION_TTL_SECONDS: int(12 * 3600, 60).describe('Lifetime of a browser session (the HttpOnly cookie POST /v1/session sets from an API key).'),
    RATE_LIMIT_MAX: int(1_200, 0).describe(
      'Requests one API key (or one client address without a key) may make per RATE_LIMIT_WINDOW_MS, counted in Redis across API processes (0 = no limit).',
    ),
    RATE_LIMIT_WINDOW_MS: int(60_000, 1_000).describe('The rate limit window.'),
    QUOTA_ACTIVE_JOBS: int(500, 1).describe(
      'Default quota: queued plus running jobs per tenant, experiment trials included (an admin can set another per tenant).',
    ),
    QUOTA_DATASET_BYTES: int(4 * 1024 ** 3, 0).describe('Default quota: bytes of uploaded and inline datasets per tenant, counted after decompression.'),
    QUOTA_ARTIFACT_BYTES: int(20 * 1024 ** 3, 0).describe(
      'Default quota: bytes of stored artifacts per tenant (datasets as stored arrays, trained models and their checkpoints).',
    ),
    QUOTA_EXPERIMENTS: int(50, 0).describe('Default quota: experiments per tenant.'),
  })
  .refine((c) => c.HEADERS_TIMEOUT_MS <= c.REQUEST_TIMEOUT_MS, {
    message: 'HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS (Node refuses it)',
    path: ['HEADERS_TIMEOUT_MS'],
  })
  .refine((c) => c.EVENT_STREAM_MAXLEN >= c.MAX_EPOCHS + 100, {
    message: 'EVENT_STREAM_MAXLEN must be at least MAX_EPOCHS + 100, or replays of long jobs would miss events',
    path: ['EVENT_STREAM_MAXLEN'],
  })
  .refine((c) => c.AUTH !== 'off' || isLoopback(c.HOST), {
    message: 'AUTH=off is only allowed when HOST is loopback (127.0.0.1, ::1): an API reachable from the network needs keys',
    path: ['AUTH'],
  });

export type Config = z.infer<typeof configSchema>;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Whether an interface name or address is loopback only (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Whether the API asks for keys: `auto` means yes unless it binds to loopback only. */
export function authRequired(c: Pick<Config, 'AUTH' | 'HOST'>): boolean {
  return c.AUTH === 'required' || (c.AUTH === 'auto' && !isLoopback(c.HOST));
}

/** The Host names the API answers; undefined = any. */
export function allowedHosts(c: Pick<Config, 'ALLOWED_HOSTS' | 'HOST'>): ReadonlySet<string> | undefined {
  const listed = c.ALLOWED_HOSTS.split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  if (listed.includes('*')) return undefined;
  if (listed.length > 0) return new Set(listed);
  return isLoopback(c.HOST) ? new Set(['localhost', '127.0.0.1', '[::1]']) : undefined;
}

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/**
 * Environment that native libraries read for themselves; set before tfjs-node loads and
 * inherited by the training child processes.
 */
export function applyNativeEnvironment(config: Config): void {
  process.env.TF_CPP_MIN_LOG_LEVEL = config.TF_CPP_MIN_LOG_LEVEL;
  for (const key of ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'TF_ENABLE_ONEDNN_OPTS'] as const) {
    if (config[key] !== '') process.env[key] = config[key];
  }
}

/** Names, defaults and descriptions, for the README's configuration table. */
export function describeConfig(): { name: string; default: unknown; description: string }[] {
  const defaults = configSchema.parse({});
  return Object.entries(configSchema.shape).map(([name, schema]) => ({
    name,
    default: (defaults as Record<string, unknown>)[name],
    description: schema.description ?? '',
  }));
}
