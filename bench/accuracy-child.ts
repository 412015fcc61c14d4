/**
 * Trains one job spec (argv[2], JSON) with `train()` exactly as a job's training process does,
 * on the native backend, and sends each epoch's report over IPC.
 */
import { jobSpecSchema } from '../src/spec/index.js';
import { prepareSpec } from '../src/planning/index.js';
import { initBackend } from '../src/training/backend.js';
import { train } from '../src/training/train.js';

const info = await initBackend('tensorflow');
const { prepared, issues } = prepareSpec(jobSpecSchema.parse(JSON.parse(process.argv[2]!)));
if (!prepared) throw new Error(`invalid benchmark spec: ${JSON.stringify(issues)}`);
const t0 = performance.now();
const { model } = await train(
  { ...prepared, training: { ...prepared.training, seed: prepared.training.seed ?? 7, maxRuntimeSeconds: 3600 } },
  { onEpochEnd: (report) => void process.send!({ type: 'epoch', report, elapsedMs: performance.now() - t0 }) },
);
model.dispose();
process.send!({ type: 'done', backend: info.backend, layers: prepared.model.layers.map((l) => l.type) }, () => process.disconnect());
