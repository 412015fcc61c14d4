/**
 * Part `profile`: where the native backend loses on small models. Runs bench/profile-child.ts
 * on `cpu` and on `tensorflow` under several TF_* environments, side by side.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { table, withTimeout } from './stats.js';

const VARIANTS: { name: string; backend: 'tensorflow' | 'cpu'; env: Record<string, string> }[] = [
  { name: 'cpu (pure JS)', backend: 'cpu', env: {} },
  { name: 'tensorflow, defaults', backend: 'tensorflow', env: {} },
  { name: 'tensorflow, TF_ENABLE_ONEDNN_OPTS=0', backend: 'tensorflow', env: { TF_ENABLE_ONEDNN_OPTS: '0' } },
  { name: 'tensorflow, intra=1 inter=1 threads', backend: 'tensorflow', env: { TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1' } },
  {
    name: 'tensorflow, oneDNN off + 1/1 threads',
    backend: 'tensorflow',
    env: { TF_ENABLE_ONEDNN_OPTS: '0', TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1' },
  },
];

const ROUNDS = Number(process.env.BENCH_PROFILE_ROUNDS ?? 2);

export async function runProfile(log: (s: string) => void = console.log) {
  const variants: { name: string; backend: string; env: Record<string, string>; results: Record<string, number> }[] = [];
  // Every variant ROUNDS times, interleaved, keeping each metric's minimum: the run least
  // disturbed by whatever else the machine does.
  for (let round = 0; round < ROUNDS; round++)
    for (const v of VARIANTS) {
      const child = fork(join(import.meta.dirname, 'profile-child.ts'), [v.backend], {
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', ...v.env },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const result = new Promise<{ backend: string; results: Record<string, number> }>((ok, fail) => {
        child.once('message', (m) => ok(m as { backend: string; results: Record<string, number> }));
        child.once('exit', (code) => fail(new Error(`profile child exited (${code})`)));
      });
      try {
        const r = await withTimeout(result, 180_000, `profile ${v.name}`);
        const seen = variants.find((x) => x.name === v.name);
        if (seen) for (const [k, val] of Object.entries(r.results)) seen.results[k] = Math.min(seen.results[k] ?? Infinity, val);
        else variants.push({ ...v, results: r.results });
        log(`  ${v.name} (round ${round + 1}): trainOnBatch ${r.results['trainOnBatch, Descent adam (TorchOptimizer) ms']!.toFixed(2)} ms`);
      } finally {
        child.kill('SIGKILL');
      }
    }
  return { model: '2-16-16-1 tanh/sigmoid MLP, batch 32, binaryCrossentropy', rounds: ROUNDS, variants };
}

export function profileTables(r: Awaited<ReturnType<typeof runProfile>>): string {
  const metrics = Object.keys(r.variants[0]?.results ?? {});
  const rows = metrics.map((m) => [m, ...r.variants.map((v) => v.results[m] ?? NaN)]);
  return `${r.model}; each cell the minimum of ${r.rounds} runs\n\n${table(['metric', ...r.variants.map((v) => v.name)], rows)}`;
}
