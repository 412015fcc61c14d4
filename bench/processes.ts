/** Child processes and Redis for the `api` and `sse` parts. */
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withTimeout } from './stats.js';

/** Forks a bench/*.ts file under tsx and waits for its first IPC message. */
export async function forkTs<M>(file: string, args: string[], timeoutMs = 60_000): Promise<{ child: ChildProcess; first: M }> {
  const child = fork(join(import.meta.dirname, file), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = new Promise<M>((ok, fail) => {
    child.once('message', (m) => ok(m as M));
    child.once('exit', (code) => fail(new Error(`${file} exited (${code}) before it was ready`)));
  });
  try {
    return { child, first: await withTimeout(first, timeoutMs, `starting ${file}`) };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

/** Resident memory of a process in MiB, from /proc (Linux). */
export function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return line ? Number(line[1]) / 1024 : NaN;
}

/** The soft limit on open files this process (and its children) got from the shell. */
export function openFileLimit(): number {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  return Number(out.stdout.trim());
}

export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  if (child.connected) child.disconnect();
  else child.kill('SIGTERM');
  await withTimeout(exited, graceMs, 'child exit').catch(() => child.kill('SIGKILL'));
}
