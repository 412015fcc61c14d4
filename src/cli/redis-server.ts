import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NO_REDIS_SERVER =
  'No redis-server on the PATH, and none provisioned by `npm install` (it builds one when python3 with pip, make and a C compiler ' +
  'are there: rerun `node scripts/install-redis.mjs` to see why it did not). Install one (e.g. `apt-get install redis-server`) or set REDIS_URL to a running Redis.';

export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Ends it abruptly (SIGKILL), as a crash would. */
  crash(): Promise<void>;
  /** Freezes it (SIGSTOP) or lets it go on (SIGCONT): a stalled host or network, in tests and benchmarks. */
  pause(paused: boolean): void;
}

const runs = (command: string) => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * The redis-server that `npm install` provisioned when the machine had none
 * (scripts/install-redis.mjs links it into npm's bin directory): the nearest
 * `node_modules/.bin/redis-server` at or above `from` that runs.
 */
export function provisionedRedisServer(from: string): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', '.bin', 'redis-server');
    if (existsSync(candidate) && runs(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The redis-server to run: the one on the PATH, else the provisioned one. */
export function redisServerCommand(): string | undefined {
  return runs('redis-server') ? 'redis-server' : provisionedRedisServer(dirname(fileURLToPath(import.meta.url)));
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => ok(port));
    });
  });
}

/**
 * Runs a redis-server child with what BullMQ needs (noeviction) and durability on (append-only
 * file, fsync every second) under `dir`. Resolves once it accepts connections.
 */
export async function startRedisServer(options: { port: number; dir: string; appendOnly?: boolean; replicaOf?: number }): Promise<PrivateRedis> {
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  const args = [
    '--port',
    String(options.port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    options.appendOnly === false ? 'no' : 'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
    ...(options.replicaOf ? ['--replicaof', '127.0.0.1', String(options.replicaOf)] : []),
  ];
  const command = redisServerCommand();
  if (!command) throw new Error(NO_REDIS_SERVER);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((ok, fail) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout.off('data', onData);
        ok();
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => fail(new Error(`redis-server exited (${code}) before it was ready:\n${output.slice(-2000)}`)));
    child.once('error', fail);
  });
  child.stdout.resume();
  child.stderr.resume();
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  return {
    url: `redis://127.0.0.1:${options.port}`,
    port: options.port,
    pause: (paused) => void child.kill(paused ? 'SIGSTOP' : 'SIGCONT'),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    crash: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
