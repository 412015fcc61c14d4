import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Ends it abruptly (SIGKILL), as a crash would. */
  crash(): Promise<void>;
  /** Freezes it (SIGSTOP) or lets it go on (SIGCONT): a stalled host or network, in tests and benchmarks. */
  pause(paused: boolean): void;
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
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
    '--port', String(options.port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--appendonly', options.appendOnly === false ? 'no' : 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--daemonize', 'no',
    ...(options.replicaOf ? ['--replicaof', '127.0.0.1', String(options.replicaOf)] : []),
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
