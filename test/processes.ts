import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A Descent process (API or worker) started as `npm run api` / `npm run worker` would, from source. */
export interface DescentProcess {
  child: ChildProcess;
  /** The first IPC message: `listening` (API, with its address) or `ready` (worker). */
  ready: Promise<{ type: string; address?: string }>;
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startProcess(entry: 'src/api/server.ts' | 'workers/worker.ts', env: Record<string, string>): DescentProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(`../${entry}`, import.meta.url))], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<{ type: string; address?: string }>((resolve, reject) => {
    child.once('message', (msg) => resolve(msg as { type: string; address?: string }));
    child.once('exit', (code, signal) => reject(new Error(`${entry} exited (${signal ?? code}) before it was ready`)));
  });
  ready.catch(() => {});
  return {
    child,
    ready,
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
