/**
 * Part `threads`: the graph engine's session threading, per model and batch size, in one process.
 * Three variants train the same model on the same batches, an epoch each per round, taking
 * turns of BENCH_THREADS_BLOCK steps (the first turn rotating), so a swing in the machine's
 * load hits them alike:
 *  - `caller`: a synchronous session call, ops in the calling thread (inter-op -1);
 *  - `pool`: a synchronous session call into an inter-op pool of as many threads as cores;
 *  - `pool+async`: that pool, called on the libuv pool (the engine's threading before `7a35829`).
 * Each epoch's wall time and the process' CPU time (user + system) are recorded; paired ratios
 * (variant / caller, the same round) are what the load cannot move much.
 */
import { availableParallelism, loadavg } from 'node:os';
import { jobSpecSchema } from '../src/spec/index.js';
import { prepareSpec } from '../src/planning/index.js';
import { initBackend } from '../src/training/backend.js';
import { graphAvailability } from '../src/training/engine.js';
import { GraphTrainer } from '../src/training/graph/graph-trainer.js';
import { buildModel } from '../src/training/model.js';
import { CLASSES, inlineMnist, loadMnist } from './mnist-data.js';
import { MODELS, type ModelName } from './models.js';
import { median, percentile, table } from './stats.js';

const env = process.env;
const ROUNDS = Number(env.BENCH_THREADS_ROUNDS ?? 6);
const BATCHES = (env.BENCH_BATCHES ?? '32,128').split(',').map(Number);
const MODEL_NAMES = (env.BENCH_MODELS ?? 'mlp,cnn').split(',') as ModelName[];
const SAMPLES = Number(env.BENCH_SAMPLES ?? 10_000);
/** Steps a variant runs before the next one takes a turn (default: a whole epoch). */
const BLOCK = Number(env.BENCH_THREADS_BLOCK ?? Infinity);
/** As train() does: the event loop gets a turn every few ms of synchronous steps. */
const YIELD_MS = 5;

const cores = Math.max(1, availableParallelism());
const ALL_VARIANTS = [
  { name: 'caller', interOp: -1, async: false },
  { name: 'pool', interOp: cores, async: false },
  { name: 'pool+async', interOp: cores, async: true },
] as const;
type VariantName = (typeof ALL_VARIANTS)[number]['name'];
/** BENCH_THREADS_VARIANTS picks some (one per process, to compare separate runs); ratios are to the first. */
const picked = env.BENCH_THREADS_VARIANTS?.split(',');
const VARIANTS = picked ? picked.map((n) => ALL_VARIANTS.find((v) => v.name === n)!).filter(Boolean) : ALL_VARIANTS;

interface Epoch {
  wallMs: number;
  cpuMs: number;
  loss: number;
}

/** Steps start..start+steps of an epoch in `order`; adds their wall and CPU time and loss sum to `e`. */
async function block(trainer: GraphTrainer, order: Int32Array, batchSize: number, async: boolean, from: number, steps: number, e: Epoch): Promise<number> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let yielded = t0;
  let start = from;
  for (let s = 0; s < steps && start < order.length; s++, start += batchSize) {
    const rows = order.subarray(start, start + batchSize);
    let values: number[];
    if (async) values = await trainer.trainBatchAsync(rows, 1e-3);
    else {
      if (performance.now() - yielded >= YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        yielded = performance.now();
      }
      values = trainer.trainBatch(rows, 1e-3);
    }
    e.loss += values[0]! * rows.length;
  }
  e.wallMs += performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  e.cpuMs += (cpu.user + cpu.system) / 1000;
  return start;
}

/** A seeded permutation of 0..n-1 (the same batches for every variant in a round). */
function permutation(n: number, seed: number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

export async function runThreadsBench(log: (s: string) => void = console.log) {
  const info = await initBackend('tensorflow');
  const { addon, reason } = graphAvailability();
  if (!addon) throw new Error(`the graph engine is unavailable: ${reason}`);
  const mnist = loadMnist();
  const samples = Math.min(SAMPLES, mnist.samples);
  const cases = [];
  for (const modelName of MODEL_NAMES)
    for (const batchSize of BATCHES) {
      const m = MODELS[modelName];
      const { prepared, issues } = prepareSpec(
        jobSpecSchema.parse({
          dataset: { inline: inlineMnist(mnist, 1, modelName === 'cnn') },
          model: { inputShape: m.inputShape, layers: m.layers },
          loss: 'categoricalCrossentropy',
          optimizer: { name: 'adam', learningRate: 1e-3 },
          training: { epochs: 1, batchSize },
        }),
      );
      if (!prepared) throw new Error(`invalid benchmark spec: ${JSON.stringify(issues)}`);
      const data = {
        samples,
        x: mnist.x.subarray(0, samples * 784),
        y: mnist.y.subarray(0, samples * CLASSES),
        inputShape: m.inputShape,
        targetShape: [CLASSES],
      };
      const model = buildModel(prepared.model, 7);
      const trainers = VARIANTS.map(
        (v) =>
          new GraphTrainer(addon, model, {
            loss: prepared.loss,
            metrics: prepared.metrics,
            optimizer: prepared.optimizer,
            data,
            seed: 7,
            threads: { intraOp: cores, interOp: v.interOp },
          }),
      );
      const epochs = new Map<VariantName, Epoch[]>(VARIANTS.map((v) => [v.name, []]));
      const loads: number[] = [];
      try {
        // Round 0 warms every variant up and is not kept.
        for (let round = 0; round <= ROUNDS; round++) {
          const order = permutation(samples, 1000 + round);
          loads.push(loadavg()[0]!);
          // One epoch per variant, in turns of BLOCK steps each (the first turn rotating).
          const es = VARIANTS.map(() => ({ wallMs: 0, cpuMs: 0, loss: 0 }));
          const next = VARIANTS.map(() => 0);
          while (next.some((n) => n < samples))
            for (let k = 0; k < VARIANTS.length; k++) {
              const i = (k + round) % VARIANTS.length;
              if (next[i]! < samples) next[i] = await block(trainers[i]!, order, batchSize, VARIANTS[i]!.async, next[i]!, BLOCK, es[i]!);
            }
          if (round > 0) VARIANTS.forEach((v, i) => epochs.get(v.name)!.push({ ...es[i]!, loss: es[i]!.loss / samples }));
        }
      } finally {
        trainers.forEach((t) => t.dispose());
        model.dispose();
      }
      const caller = epochs.get(VARIANTS[0]!.name)!;
      const variants = VARIANTS.map(({ name }) => {
        const es = epochs.get(name)!;
        return {
          name,
          wallMs: es.map((e) => e.wallMs),
          cpuMs: es.map((e) => e.cpuMs),
          /** This variant's epoch / the first variant's (caller unless BENCH_THREADS_VARIANTS says otherwise) in the same round. */
          wallRatio: es.map((e, r) => e.wallMs / caller[r]!.wallMs),
          cpuRatio: es.map((e, r) => e.cpuMs / caller[r]!.cpuMs),
          lastLoss: es.at(-1)!.loss,
        };
      });
      const c = { model: modelName, batchSize, samples, rounds: ROUNDS, loadAverage: loads, variants };
      for (const v of variants)
        log(
          `  ${modelName} b${batchSize} ${v.name}: wall median ${median(v.wallMs).toFixed(0)} ms (×${median(v.wallRatio).toFixed(3)}), cpu ${median(v.cpuMs).toFixed(0)} ms (×${median(v.cpuRatio).toFixed(3)})`,
        );
      cases.push(c);
    }
  return { cores, block: BLOCK, versions: info.versions, cases };
}

const span = (xs: number[], digits = 0) => `${percentile(xs, 0).toFixed(digits)}–${percentile(xs, 100).toFixed(digits)}`;

export function threadsTable(r: Awaited<ReturnType<typeof runThreadsBench>>): string {
  const rows = r.cases.flatMap((c) =>
    c.variants.map((v) => [
      MODELS[c.model].label,
      c.batchSize,
      v.name,
      `${median(v.wallMs).toFixed(0)} (${span(v.wallMs)})`,
      `${median(v.wallRatio).toFixed(3)} (${span(v.wallRatio, 2)})`,
      `${median(v.cpuMs).toFixed(0)} (${span(v.cpuMs)})`,
      `${median(v.cpuRatio).toFixed(3)} (${span(v.cpuRatio, 2)})`,
      `${span(c.loadAverage, 1)}`,
    ]),
  );
  return `turns of ${r.block} steps; paired: each round's epoch over the first variant's\n\n${table(['model', 'batch', 'threading', 'epoch ms, median (min–max)', 'vs first, paired', 'CPU ms/epoch', 'CPU vs first', 'load avg'], rows)}`;
}
