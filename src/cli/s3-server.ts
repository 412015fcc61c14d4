import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './redis-server.js';

/**
 * A real S3 server for tests, the chaos run and benchmarks: Versity's versitygw, an S3 gateway
 * over a local directory (PUT, GET, multipart, list, batch delete). Built once from the Go
 * module proxy into ~/.cache/descent/bin (about a minute), then reused.
 */
export const VERSITYGW_MODULE = 'github.com/versity/versitygw/cmd/versitygw@v1.8.0';
const BIN_DIR = join(homedir(), '.cache', 'descent', 'bin');
const BIN = join(BIN_DIR, 'versitygw');

export function versitygwBinary(): string {
  if (existsSync(BIN)) return BIN;
  mkdirSync(BIN_DIR, { recursive: true });
  // env(1) adds GOBIN to the inherited environment.
  const built = spawnSync('env', [`GOBIN=${BIN_DIR}`, 'go', 'install', VERSITYGW_MODULE], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (built.error || built.status !== 0 || !existsSync(BIN)) {
    throw new Error(`could not build versitygw (go install ${VERSITYGW_MODULE} with GOBIN=${BIN_DIR}); is Go installed? ${built.error?.message ?? ''}`);
  }
  return BIN;
}

export interface S3Server {
  /** The endpoint (S3_ENDPOINT). */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** A bucket that exists, for ARTIFACT_STORE=s3://bucket/... */
  bucket: string;
  stop(): Promise<void>;
}

/** Starts versitygw on a free loopback port over `dir`, with one bucket; resolves once it answers. */
export async function startS3Server(options: { dir: string; bucket?: string; port?: number }): Promise<S3Server> {
  const bin = versitygwBinary();
  const dir = resolve(options.dir);
  const bucket = options.bucket ?? 'descent';
  mkdirSync(join(dir, bucket), { recursive: true });
  const port = options.port ?? (await freePort());
  const accessKeyId = 'descent';
  const secretAccessKey = 'descent-secret';
  const child = spawn(bin, ['--port', `127.0.0.1:${port}`, '--access', accessKeyId, '--secret', secretAccessKey, '--quiet', 'posix', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`versitygw exited (${child.exitCode}) before it answered:\n${output}`);
    // Any HTTP answer (an S3 error for the unsigned request included) means it is serving.
    const answered = await fetch(endpoint, { signal: AbortSignal.timeout(1_000) }).then(
      () => true,
      () => false,
    );
    if (answered) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`versitygw did not answer on ${endpoint} within 20 s:\n${output}`);
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    bucket,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
