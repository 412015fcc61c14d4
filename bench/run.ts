/**
 * `npm run bench [-- part ...]`: parts `training`, `accuracy`, `service`, `api`, `sse`, `profile`, `storage`, `failover`, `experiments`, `threads`; no part
 * runs all of them. Prints a table per part and writes everything to bench/results/<timestamp>.json.
 * Knobs are BENCH_* environment variables (see README.md, "Performance").
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { accuracyTable, runAccuracyBench } from './accuracy.js';
import { experimentsTable, runExperimentsBench } from './experiments-bench.js';
import { apiTable, runApiBench } from './api-bench.js';
import { profileTables, runProfile } from './profile-native.js';
import { runServiceBench, serviceTable } from './service.js';
import { runSseBench, sseTable } from './sse-bench.js';
import { runStorageBench, storageTable } from './storage-bench.js';
import { failoverTable, runFailoverBench } from './failover-bench.js';
import { runTrainingBench, trainingTable } from './training-bench.js';
import { runThreadsBench, threadsTable } from './graph-threads.js';

const PARTS = ['training', 'accuracy', 'service', 'api', 'sse', 'profile', 'storage', 'failover', 'experiments', 'threads'] as const;
type Part = (typeof PARTS)[number];

const asked = process.argv.slice(2).filter((a) => a !== '--');
const unknown = asked.filter((a) => !(PARTS as readonly string[]).includes(a));
if (unknown.length > 0) {
  console.error(`unknown part(s) ${unknown.join(', ')}; choose from ${PARTS.join(', ')}`);
  process.exit(2);
}
const parts: Part[] = asked.length > 0 ? (asked as Part[]) : [...PARTS];

const started = new Date();
const report: Record<string, unknown> = {
  startedAt: started.toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  loadAverageAtStart: loadavg(),
};
const out = join(import.meta.dirname, 'results');
const file = join(out, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
const save = () => {
  mkdirSync(out, { recursive: true });
  writeFileSync(file, JSON.stringify({ ...report, loadAverageAtEnd: loadavg() }, null, 2));
};

// Runs one part; a failing part is recorded and the others still run.
async function part(name: Part, run: () => Promise<unknown>, print: (r: never) => string) {
  const t0 = performance.now();
  console.log(
    `\n== ${name} (load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')})`,
  );
  try {
    const result = await run();
    report[name] = { ...(result as object), seconds: Math.round((performance.now() - t0) / 1000) };
    console.log(`\n${print(result as never)}`);
  } catch (err) {
    report[name] = { error: (err as Error).stack ?? String(err) };
    console.log(`\n${name} failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
  save();
}

for (const p of parts) {
  if (p === 'training')
    await part(
      p,
      () => runTrainingBench(),
      (r: Awaited<ReturnType<typeof runTrainingBench>>) => trainingTable(r.results),
    );
  if (p === 'accuracy') await part(p, () => runAccuracyBench(), accuracyTable);
  if (p === 'service') await part(p, () => runServiceBench(), serviceTable);
  if (p === 'api') await part(p, () => runApiBench(), apiTable);
  if (p === 'sse') await part(p, () => runSseBench(), sseTable);
  if (p === 'profile') await part(p, () => runProfile(), profileTables);
  if (p === 'storage') await part(p, () => runStorageBench(), storageTable);
  if (p === 'failover') await part(p, () => runFailoverBench(), failoverTable);
  if (p === 'experiments') await part(p, () => runExperimentsBench(), experimentsTable);
  // Last: it loads the native backend into this process.
  if (p === 'threads') await part(p, () => runThreadsBench(), threadsTable);
}
console.log(`\nwrote ${file} (${Math.round((Date.now() - started.getTime()) / 1000)} s)`);
