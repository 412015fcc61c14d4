/**
 * Part `profile`, one process per backend and environment (TF_* variables only take effect
 * before the native library loads): per-step costs of a 2-16-16-1 tanh MLP at batch 32, the
 * model where the native backend loses to pure JS. argv[2]: `tensorflow` | `cpu`.
 */
import * as tf from '@tensorflow/tfjs';
import { layerSchema, optimizerSchema } from '../src/spec/index.js';
import { type BackendName, initBackend } from '../src/training/backend.js';
import { buildModel } from '../src/training/model.js';
import { createOptimizer } from '../src/training/optimizers.js';

const info = await initBackend(process.argv[2] as BackendName);
const STEPS = Number(process.env.BENCH_PROFILE_STEPS ?? 200);
const BATCH = 32;
const SAMPLES = 1024;

const x = tf.randomUniform([SAMPLES, 2], -1, 1, 'float32', 1);
const y = tf.tidy(() => x.sum(1, true).greater(0).cast('float32'));
const xb = x.slice(0, BATCH);
const yb = y.slice(0, BATCH);

function model(optimizer: tf.Optimizer): tf.LayersModel {
  const m = buildModel(
    {
      inputShape: [2],
      layers: [
        { type: 'dense', units: 16, activation: 'tanh', useBias: true, kernelInitializer: 'glorotUniform', biasInitializer: 'zeros' },
        { type: 'dense', units: 16, activation: 'tanh', useBias: true, kernelInitializer: 'glorotUniform', biasInitializer: 'zeros' },
        { type: 'dense', units: 1, activation: 'sigmoid', useBias: true, kernelInitializer: 'glorotUniform', biasInitializer: 'zeros' },
      ],
    },
    7,
  );
  m.compile({ optimizer, loss: 'binaryCrossentropy' });
  return m;
}

const torchAdam = () => createOptimizer(optimizerSchema.parse({ name: 'adam', learningRate: 0.01 }));

/** Mean ms per call of `fn` over STEPS calls, after STEPS/5 warm-up calls. */
async function perCall(fn: () => unknown | Promise<unknown>, steps = STEPS): Promise<number> {
  for (let i = 0; i < Math.max(5, steps / 5); i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await fn();
  return (performance.now() - t0) / steps;
}

/** Kernels one call dispatches (tf.profile counts every op the engine runs). */
async function kernels(fn: () => Promise<unknown>): Promise<number> {
  const p = await tf.profile(async () => {
    await fn();
  });
  return p.kernels.length;
}

const results: Record<string, number> = {};
const yieldOnce = () => new Promise((resolve) => setImmediate(resolve));

{
  const m = model(torchAdam());
  results['trainOnBatch, Descent adam (TorchOptimizer) ms'] = await perCall(() => m.trainOnBatch(xb, yb));
  results['trainOnBatch + setImmediate, Descent adam ms'] = await perCall(async () => {
    await m.trainOnBatch(xb, yb);
    await yieldOnce();
  });
  results['kernels per trainOnBatch, Descent adam'] = await kernels(() => m.trainOnBatch(xb, yb));
  results['predict 32 rows + dataSync ms'] = await perCall(() => tf.tidy(() => (m.predict(xb) as tf.Tensor).dataSync()));
  results['fit, 32 batches/epoch, Descent adam, ms/batch'] =
    (await perCall(() => m.fit(x, y, { batchSize: BATCH, epochs: 1, shuffle: false, verbose: 0 }), 10)) / (SAMPLES / BATCH);
  m.dispose();
}
{
  const m = model(tf.train.adam(0.01));
  results['trainOnBatch, tfjs built-in adam ms'] = await perCall(() => m.trainOnBatch(xb, yb));
  results['kernels per trainOnBatch, tfjs adam'] = await kernels(() => m.trainOnBatch(xb, yb));
  m.dispose();
}
{
  const m = model(tf.train.sgd(0.01));
  results['trainOnBatch, tfjs built-in sgd ms'] = await perCall(() => m.trainOnBatch(xb, yb));
  results['kernels per trainOnBatch, tfjs sgd'] = await kernels(() => m.trainOnBatch(xb, yb));
  m.dispose();
}
{
  // The optimizer step alone, on fixed gradients of the same shapes.
  const vars = [[2, 16], [16], [16, 16], [16], [16, 1], [1]].map((s, i) => tf.variable(tf.randomNormal(s), true, `bench/p${i}`));
  const grads = vars.map((v) => ({ name: v.name, tensor: tf.randomNormal(v.shape) }));
  const torch = torchAdam();
  const builtin = tf.train.adam(0.01);
  results['applyGradients only, Descent adam ms'] = await perCall(() => torch.applyGradients(grads));
  results['applyGradients only, tfjs adam ms'] = await perCall(() => builtin.applyGradients(grads));
  results['kernels per applyGradients, Descent adam'] = await kernels(async () => torch.applyGradients(grads));
}
{
  // The optimizer step at MNIST-MLP size (784-256-128-10, 235k parameters): element-wise work.
  const shapes = [[784, 256], [256], [256, 128], [128], [128, 10], [10]];
  const vars = shapes.map((s, i) => tf.variable(tf.randomNormal(s), true, `bench/mnist${i}`));
  const grads = vars.map((v) => ({ name: v.name, tensor: tf.randomNormal(v.shape) }));
  const torch = torchAdam();
  const builtin = tf.train.adam(0.01);
  results['applyGradients only, Descent adam, MNIST-MLP shapes ms'] = await perCall(() => torch.applyGradients(grads), 50);
  results['applyGradients only, tfjs adam, MNIST-MLP shapes ms'] = await perCall(() => builtin.applyGradients(grads), 50);
}
{
  // relu's gradient: tfjs-node's Step kernel is isNaN, greater, ones, fill and two selects over
  // the whole tensor; here on the first conv activation of the CNN at batch 128.
  const act = tf.randomNormal([128, 26, 26, 16]);
  results['step(x) on 128x26x26x16 (relu backward), ms'] = await perCall(() => tf.step(act).dispose(), 20);
  results['cast(greater(x, 0)) on the same, ms'] = await perCall(() => tf.tidy(() => tf.cast(tf.greater(act, 0), 'float32')).dispose(), 20);
}
{
  // The floor: one tiny op, and one op whose scalar operand comes from a JS number (a new
  // tensor to upload each call, as `t.mul(0.9)` does).
  const a = tf.ones([16, 16]);
  const s = tf.scalar(0.9);
  results['one op a.mul(tensor) + dispose, µs'] = 1000 * (await perCall(() => a.mul(s).dispose(), 5000));
  results['one op a.mul(0.9 as JS number) + dispose, µs'] = 1000 * (await perCall(() => a.mul(0.9).dispose(), 5000));
  results['await t.data() of a scalar, µs'] = 1000 * (await perCall(() => s.data(), 2000));
}
{
  // Element-wise and matmul costs at MNIST-MLP sizes, to compare with TensorFlow's own eager
  // mode (bench/keras-eager.py prints the same two for Python).
  const w = tf.randomNormal([784, 256]);
  const v = tf.randomNormal([784, 256]);
  const x = tf.randomNormal([128, 784]);
  results['add of two 784x256 tensors, µs'] = 1000 * (await perCall(() => tf.add(w, v).dispose(), 500));
  results['matmul 128x784 by 784x256, µs'] = 1000 * (await perCall(() => tf.matMul(x, w).dispose(), 500));
}
{
  // Building an LSTM: its recurrent kernel's orthogonal initializer dominates (Descent's own,
  // src/training/orthogonal.ts; tfjs' took 2.9 s at 256 units and 12.2 s at 512).
  for (const units of [256, 512]) {
    const t0 = performance.now();
    const lstm = buildModel({ inputShape: [20, 8], layers: [layerSchema.parse({ type: 'lstm', units })] }, 1);
    results[`build an LSTM of ${units} units (orthogonal init), ms`] = performance.now() - t0;
    lstm.dispose();
  }
}
process.send!({ backend: info.backend, results }, () => process.exit(0));
