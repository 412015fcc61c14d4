/**
 * Part `training`: samples/s of the MLP and the CNN on MNIST, per batch size, for Descent's
 * engines (graph and eager on the tensorflow backend, eager on cpu, each in a child process), a
 * job through the service (the MLP, default engine, epoch durationMs), and Keras and PyTorch (a
 * Python child each), all on the same arrays, written once to a temp dir.
 */
import { fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { EngineRequest } from './engine-child.js';
import { loadMnist, writeMnistBinary } from './mnist-data.js';
import { MODELS, type ModelName, type TrainingCase, type TrainingResult } from './models.js';
import { table, withTimeout } from './stats.js';
import { runServiceJobs } from './service.js';

const env = process.env;
const EPOCHS = Number(env.BENCH_EPOCHS ?? 3);
const WARMUP = Number(env.BENCH_WARMUP_EPOCHS ?? 1);
const BATCHES = (env.BENCH_BATCHES ?? '32,128').split(',').map(Number);
const MODEL_NAMES = (env.BENCH_MODELS ?? 'mlp,cnn').split(',') as ModelName[];
/** Threads for Keras and PyTorch: TF's own default on this 2-core machine, which tfjs-node gets too. */
const THREADS = { intra: Number(env.BENCH_INTRA_THREADS ?? 2), inter: Number(env.BENCH_INTER_THREADS ?? 2) };
/** The pure-JS backend is far slower: it trains on the first N digits only (samples/s stays comparable). */
const CPU_SAMPLES: Record<ModelName, number> = {
  mlp: Number(env.BENCH_CPU_MLP_SAMPLES ?? 1024),
  cnn: Number(env.BENCH_CPU_CNN_SAMPLES ?? 128),
};
const SAMPLES = Number(env.BENCH_SAMPLES ?? 10_000);
const FRAMEWORKS = (env.BENCH_FRAMEWORKS ?? 'descent-graph,descent-eager,descent-service,descent-cpu,keras,torch').split(',');
/** Descent's engine children: backend and training engine. */
const ENGINES: Record<string, { backend: 'tensorflow' | 'cpu'; engine: 'graph' | 'eager' }> = {
  'descent-graph': { backend: 'tensorflow', engine: 'graph' },
  'descent-eager': { backend: 'tensorflow', engine: 'eager' },
  'descent-cpu': { backend: 'cpu', engine: 'eager' },
};
const CHILD_TIMEOUT_MS = Number(env.BENCH_CHILD_TIMEOUT_MS ?? 8 * 60_000);

const repoRoot = resolve(import.meta.dirname, '..');

/** BENCH_PYTHON_KERAS / BENCH_PYTHON_TORCH, else BENCH_PYTHON, else the venv bench/setup-python.sh makes. */
export function pythonFor(framework: 'keras' | 'torch'): string | undefined {
  const specific = framework === 'keras' ? env.BENCH_PYTHON_KERAS : env.BENCH_PYTHON_TORCH;
  const candidate = specific ?? env.BENCH_PYTHON ?? join(repoRoot, '.venv-bench', 'bin', 'python');
  return existsSync(candidate) ? candidate : undefined;
}

function cases(framework: string): TrainingCase[] {
  // Through the service: the MLP only (a job as a client submits it).
  const models = framework === 'descent-service' ? MODEL_NAMES.filter((m) => m === 'mlp') : MODEL_NAMES;
  return models.flatMap((model) =>
    BATCHES.map((batchSize) => ({
      model,
      batchSize,
      samples: framework === 'descent-cpu' ? CPU_SAMPLES[model] : SAMPLES,
      epochs: EPOCHS,
      warmupEpochs: WARMUP,
    })),
  );
}

function failed(framework: string, reason: string): TrainingResult[] {
  return cases(framework).map((c) => ({ ...c, framework, epochMs: [], samplesPerSecond: NaN, finalLoss: null, error: reason }));
}

async function runEngine(framework: string, files: { x: string; y: string }, log: (s: string) => void): Promise<FrameworkRun> {
  const { backend, engine } = ENGINES[framework]!;
  const child = fork(join(import.meta.dirname, 'engine-child.ts'), [backend, engine, framework], {
    execArgv: ['--import', 'tsx'],
    env: { ...env, TF_CPP_MIN_LOG_LEVEL: env.TF_CPP_MIN_LOG_LEVEL ?? '2' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const done = new Promise<{ results: TrainingResult[]; versions: Record<string, string> }>((ok, fail) => {
    child.on(
      'message',
      (m: { type: string; result?: TrainingResult; results?: TrainingResult[]; backend?: { backend: string; versions: Record<string, string> } }) => {
        if (m.type === 'ready') {
          if (m.backend!.backend !== backend) fail(new Error(`asked for ${backend}, got ${m.backend!.backend}`));
          child.send({ cases: cases(framework), files } satisfies EngineRequest);
        } else if (m.type === 'progress') {
          log(
            `  ${framework} ${m.result!.model} b${m.result!.batchSize}: ${m.result!.samplesPerSecond.toFixed(0)} samples/s${m.result!.error ? ` (${m.result!.error})` : ''}`,
          );
        } else if (m.type === 'done') {
          ok({ results: m.results!, versions: m.backend!.versions });
        }
      },
    );
    child.once('exit', (code) => fail(new Error(`${framework} child exited (${code}) before it finished`)));
  });
  try {
    return await withTimeout(done, CHILD_TIMEOUT_MS, framework);
  } catch (err) {
    return { results: failed(framework, (err as Error).message), versions: {} };
  } finally {
    child.kill('SIGKILL');
  }
}

type FrameworkRun = { results: TrainingResult[]; versions: Record<string, string> };

/** Jobs through the API and a worker (default engine), timed by their epochs' durationMs. */
async function runService(list: TrainingCase[], log: (s: string) => void): Promise<FrameworkRun> {
  try {
    const { results, versions } = await withTimeout(runServiceJobs(list), CHILD_TIMEOUT_MS, 'descent-service');
    for (const r of results) log(`  descent-service ${r.model} b${r.batchSize}: ${r.samplesPerSecond.toFixed(0)} samples/s (${r.engine} engine)`);
    return { results, versions };
  } catch (err) {
    log(`  descent-service: failed, ${(err as Error).message}`);
    return { results: failed('descent-service', (err as Error).message), versions: {} };
  }
}

async function runPython(framework: 'keras' | 'torch', files: { x: string; y: string }, dir: string, log: (s: string) => void): Promise<FrameworkRun> {
  const python = pythonFor(framework);
  if (!python) {
    const hint = 'no Python: run bench/setup-python.sh or set BENCH_PYTHON (or BENCH_PYTHON_KERAS / BENCH_PYTHON_TORCH)';
    log(`  ${framework}: skipped, ${hint}`);
    return { results: failed(framework, hint), versions: {} };
  }
  const reqPath = join(dir, `${framework}-request.json`);
  writeFileSync(reqPath, JSON.stringify({ ...files, threads: THREADS, cases: cases(framework) }));
  const child = spawn(python, [join(import.meta.dirname, 'frameworks.py'), framework, reqPath], {
    env: { ...env, TF_CPP_MIN_LOG_LEVEL: '2' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((ok) => child.once('exit', ok));
  try {
    const code = await withTimeout(exited, CHILD_TIMEOUT_MS, framework);
    if (code !== 0) throw new Error(`exit ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { results: TrainingResult[]; versions: Record<string, string> };
    for (const r of out.results) log(`  ${framework} ${r.model} b${r.batchSize}: ${r.samplesPerSecond.toFixed(0)} samples/s`);
    return { results: out.results.map((r) => ({ ...r, framework })), versions: { ...out.versions, python } };
  } catch (err) {
    log(`  ${framework}: failed, ${(err as Error).message}`);
    return { results: failed(framework, (err as Error).message), versions: { python } };
  } finally {
    child.kill('SIGKILL');
  }
}

export async function runTrainingBench(log: (s: string) => void = console.log) {
  const dir = mkdtempSync(join(tmpdir(), 'descent-bench-mnist-'));
  try {
    const data = loadMnist();
    const files = writeMnistBinary(data, dir);
    log(`training: ${data.samples} MNIST digits, ${WARMUP} warm-up + ${EPOCHS} measured epochs, batches ${BATCHES.join('/')}`);
    const results: TrainingResult[] = [];
    const versions: Record<string, Record<string, string>> = {};
    // One at a time: each framework gets both cores to itself.
    for (const fw of FRAMEWORKS) {
      const out = ENGINES[fw]
        ? await runEngine(fw, files, log)
        : fw === 'descent-service'
          ? await runService(cases(fw), log)
          : await runPython(fw as 'keras' | 'torch', files, dir, log);
      results.push(...out.results);
      versions[fw] = out.versions;
    }
    return { config: { epochs: EPOCHS, warmupEpochs: WARMUP, threads: THREADS, cpuSamples: CPU_SAMPLES, samples: SAMPLES }, versions, results };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function trainingTable(results: TrainingResult[]): string {
  const keras = (r: TrainingResult) => results.find((k) => k.framework === 'keras' && k.model === r.model && k.batchSize === r.batchSize);
  const rows = results.map((r) => {
    const ref = keras(r)?.samplesPerSecond ?? NaN;
    const measured = r.epochMs.slice(r.warmupEpochs);
    return [
      MODELS[r.model].label,
      r.batchSize,
      r.framework,
      r.samples,
      r.error ? `failed: ${r.error.slice(0, 60)}` : Math.round(r.samplesPerSecond).toString(),
      measured.length ? `${Math.round(Math.min(...measured))}–${Math.round(Math.max(...measured))}` : '—',
      Number.isFinite(ref) && Number.isFinite(r.samplesPerSecond) ? `${ratio(r.samplesPerSecond / ref)}×` : '—',
    ];
  });
  rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1]));
  return table(['model', 'batch', 'framework', 'samples/epoch', 'samples/s (median)', 'epoch ms (min–max)', 'vs Keras'], rows);
}

/** Two decimals, or two significant digits for the tiny ratios of the pure-JS backend. */
const ratio = (v: number) => (v >= 0.1 ? v.toFixed(2) : v.toPrecision(2));
