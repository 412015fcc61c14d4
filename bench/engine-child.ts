/**
 * One Descent engine backend in a process of its own (the backend is chosen once per process,
 * as in a job's training process): argv[2] is `tensorflow` or `cpu`, argv[3] the training engine
 * (`graph` | `eager` | `auto`). Receives the cases over IPC, trains each with `train()` exactly as
 * a job does, and answers with the epoch times.
 */
import { readFileSync } from 'node:fs';
import { jobSpecSchema, type ResolvedJobSpec } from '../src/spec/index.js';
import { prepareSpec } from '../src/planning/index.js';
import { type BackendName, initBackend } from '../src/training/backend.js';
import { train } from '../src/training/train.js';
import { CLASSES, PIXELS, inlineMnist } from './mnist-data.js';
import { MODELS, type TrainingCase, type TrainingResult } from './models.js';
import { median } from './stats.js';

export interface EngineRequest {
  cases: TrainingCase[];
  files: { x: string; y: string };
}

const backendName = process.argv[2] as BackendName;
const engine = (process.argv[3] ?? 'auto') as 'graph' | 'eager' | 'auto';
const framework = process.argv[4] ?? `descent-${backendName}`;
const info = await initBackend(backendName);

function readF32(path: string): Float32Array {
  const buf = readFileSync(path);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
}

/** The spec a client would POST, resolved as the API resolves it (loss and seed filled in). */
function specFor(c: TrainingCase, inline: { x: unknown[]; y: number[][] }): ResolvedJobSpec {
  const m = MODELS[c.model];
  // zod validates a placeholder sample instead of all 10k (its recursive number union takes
  // seconds per million values); the engine then gets the real data, as it would from the queue.
  const parsed = jobSpecSchema.parse({
    dataset: { inline: { x: [inline.x[0]], y: [inline.y[0]] } },
    model: { inputShape: m.inputShape, layers: m.layers },
    loss: 'categoricalCrossentropy',
    optimizer: { name: 'adam', learningRate: 1e-3 },
    training: { epochs: c.warmupEpochs + c.epochs, batchSize: c.batchSize, shuffle: true, validationSplit: 0, seed: 7, engine },
  });
  const { prepared, issues } = prepareSpec(parsed);
  if (!prepared) throw new Error(`invalid benchmark spec: ${JSON.stringify(issues)}`);
  return {
    ...prepared,
    dataset: { inline: inline as unknown as NonNullable<ResolvedJobSpec['dataset']['inline']> },
    training: { ...prepared.training, seed: 7, maxRuntimeSeconds: 3600 },
  };
}

async function runCase(c: TrainingCase, data: { samples: number; x: Float32Array; y: Float32Array }): Promise<TrainingResult> {
  try {
    const spec = specFor(c, inlineMnist(data, c.samples, c.model === 'cnn'));
    const epochMs: number[] = [];
    let finalLoss: number | null = null;
    const { model } = await train(spec, {
      onEpochEnd: (report) => {
        epochMs.push(report.durationMs);
        finalLoss = report.loss;
      },
    });
    model.dispose();
    const samples = Math.min(c.samples, data.samples);
    const measured = epochMs.slice(c.warmupEpochs);
    return { ...c, samples, framework, epochMs, samplesPerSecond: samples / (median(measured) / 1000), finalLoss };
  } catch (err) {
    return { ...c, framework, epochMs: [], samplesPerSecond: NaN, finalLoss: null, error: (err as Error).message };
  }
}

process.once('message', async (req: EngineRequest) => {
  const x = readF32(req.files.x);
  const data = { samples: x.length / PIXELS, x, y: readF32(req.files.y) };
  if (data.y.length !== data.samples * CLASSES) throw new Error('x and y disagree on the number of samples');
  const results: TrainingResult[] = [];
  for (const c of req.cases) {
    const r = await runCase(c, data);
    results.push(r);
    process.send!({ type: 'progress', result: r });
  }
  process.send!({ type: 'done', backend: info, results }, () => process.disconnect());
});
process.send!({ type: 'ready', backend: info });
