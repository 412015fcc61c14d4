import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { train } from '../src/training/train.js';
import { graphAvailability } from '../src/training/engine.js';
import { type JobRecord, type ResolvedJobSpec, OPTIMIZER_NAMES } from '../src/spec/index.js';
import { type Stack, eventsUntilEnd, initTestBackend, resolveSpec, startStack, submit } from './helpers.js';

interface LayerWeights {
  kernel: number[][];
  bias: number[];
}
interface Problem {
  x: number[][];
  y: number[][];
  layers: ({ units: number; activation: string } & LayerWeights)[];
  loss: string;
  kernelRegularizer: { l1: number; l2: number };
}
interface Case {
  name: string;
  problem: string;
  optimizer: Record<string, unknown> & { name: string };
  batchSize: number | 'full';
  epochs: number;
  trajectory: { epoch: number; loss: number; layers: LayerWeights[] }[];
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/optimizer-trajectories.json', import.meta.url), 'utf8')) as {
  torch: string;
  problems: Record<string, Problem>;
  cases: Case[];
};

/** PyTorch and tfjs both compute in float32; 1e-4 relative leaves room for summation order only. */
const RTOL = 1e-4;
const ATOL = 1e-6;
let worst = { name: '', error: 0 };

function expectClose(actual: number[], expected: number[], what: string) {
  expect(actual.length, what).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    const err = Math.abs(a - e) / (Math.abs(e) + ATOL / RTOL);
    if (err > worst.error) worst = { name: what, error: err };
    expect(Math.abs(a - e), `${what}[${i}]: ${a} vs torch ${e}`).toBeLessThanOrEqual(RTOL * Math.abs(e) + ATOL);
  });
}

await initTestBackend();
const graph = graphAvailability();
/** Both engines where this machine has both; the graph one is skipped (and says why) where it does not. */
const ENGINES = graph.available ? (['graph', 'eager'] as const) : (['eager'] as const);
if (!graph.available) console.warn(`optimizer trajectories on the graph engine skipped: ${graph.reason}`);

function specFor(c: Case, engine: 'graph' | 'eager'): ResolvedJobSpec {
  const p = fixtures.problems[c.problem]!;
  return resolveSpec({
    dataset: { inline: { x: p.x, y: p.y } },
    model: {
      inputShape: [p.x[0]!.length],
      layers: p.layers.map((l) => ({ type: 'dense', units: l.units, activation: l.activation, kernelRegularizer: p.kernelRegularizer })),
    },
    loss: p.loss,
    optimizer: c.optimizer,
    training: { epochs: c.epochs, batchSize: c.batchSize, shuffle: false, seed: 1, engine },
  });
}

describe(`optimizers match PyTorch ${fixtures.torch} step by step`, () => {
  beforeAll(async () => {
    await initTestBackend();
  });
  afterAll(() => {
    console.log(`optimizer trajectories: ${fixtures.cases.length} cases, worst relative deviation ${worst.error.toExponential(2)} (${worst.name})`);
  });

  it('covers every optimizer in the catalogue', () => {
    const covered = new Set(fixtures.cases.map((c) => c.optimizer.name));
    expect([...covered].sort()).toEqual([...OPTIMIZER_NAMES].sort());
  });

  // torch.optim.SGD(momentum, nesterov) under its own name: the momentum and nesterov cases again.
  const asSgd = fixtures.cases
    .filter((c) => c.optimizer.name === 'momentum' || c.optimizer.name === 'nesterov')
    .map((c) => ({ ...c, name: `sgd(${c.name})`, optimizer: { ...c.optimizer, name: 'sgd', nesterov: c.optimizer.name === 'nesterov' } }));

  it.each([...fixtures.cases, ...asSgd].flatMap((c) => ENGINES.map((engine) => [`${c.name} (${engine})`, c, engine] as const)))(
    '%s',
    async (_name, c, engine) => {
      const p = fixtures.problems[c.problem]!;
      const seen: { loss: number | null; weights: number[][] }[] = [];
      const { model, engine: ran } = await train(specFor(c, engine), {
        prepareModel: (m) => m.setWeights(p.layers.flatMap((l) => [tf.tensor2d(l.kernel), tf.tensor1d(l.bias)])),
        onEpochEnd: async (report, m) => {
          seen.push({ loss: report.loss, weights: await Promise.all(m.getWeights().map(async (w) => Array.from(await w.data()))) });
        },
      });
      model.dispose();
      expect(ran.engine).toBe(engine);
      expect(seen).toHaveLength(c.trajectory.length);
      c.trajectory.forEach((step, e) => {
        expectClose([seen[e]!.loss!], [step.loss], `${c.name} epoch ${step.epoch} loss`);
        step.layers.forEach((layer, li) => {
          expectClose(seen[e]!.weights[2 * li]!, layer.kernel.flat(), `${c.name} epoch ${step.epoch} layer ${li} kernel`);
          expectClose(seen[e]!.weights[2 * li + 1]!, layer.bias, `${c.name} epoch ${step.epoch} layer ${li} bias`);
        });
      });
    },
  );
});

describe('optimizers through the public API', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack.close());

  it('serves the catalogue with formulas, defaults and ranges', async () => {
    const res = await stack.app.inject('/v1/optimizers');
    expect(res.statusCode).toBe(200);
    const items = res.json<{ items: { name: string; rule: string; when: string; parameters: { name: string; default?: unknown }[] }[] }>().items;
    expect(items.map((i) => i.name)).toEqual(OPTIMIZER_NAMES);
    const adam = items.find((i) => i.name === 'adam')!;
    expect(adam.parameters.find((p) => p.name === 'beta2')?.default).toBe(0.999);
    expect(adam.parameters.find((p) => p.name === 'epsilon')?.default).toBe(1e-8);
    for (const i of items) expect(i.rule).toContain('w_t');
  });

  // A zero-initialised linear model: predicting at the origin gives the bias, at each unit
  // vector the bias plus that weight, so the trained weights can be read back through predict.
  const linear = fixtures.cases.filter(
    (c) => fixtures.problems[c.problem]!.layers.length === 1 && fixtures.problems[c.problem]!.layers[0]!.kernel.flat().every((v) => v === 0),
  );
  const onePerOptimizer = OPTIMIZER_NAMES.map(
    (n) => linear.find((c) => c.optimizer.name === n && c.batchSize !== 'full') ?? linear.find((c) => c.optimizer.name === n),
  ).filter((c): c is Case => c !== undefined);

  it.each(onePerOptimizer.map((c) => [c.name, c] as const))(
    `%s on the ${ENGINES[0]} engine: trained weights read back through predict match PyTorch`,
    async (_n, c) => {
      const p = fixtures.problems[c.problem]!;
      const inputDim = p.x[0]!.length;
      const id = await submit(stack.app, {
        dataset: { inline: { x: p.x, y: p.y } },
        model: {
          inputShape: [inputDim],
          layers: [{ type: 'dense', units: p.layers[0]!.units, kernelInitializer: 'zeros', biasInitializer: 'zeros', kernelRegularizer: p.kernelRegularizer }],
        },
        loss: p.loss as 'meanSquaredError',
        optimizer: c.optimizer as { name: 'sgd' },
        training: { epochs: c.epochs, batchSize: c.batchSize, shuffle: false, engine: ENGINES[0] },
      });
      const events = await eventsUntilEnd(stack.app, id);
      expect(events.at(-1)!.event).toBe('completed');
      const origin = Array(inputDim).fill(0);
      const units = Array.from({ length: inputDim }, (_, i) => origin.map((_, j) => (i === j ? 1 : 0)));
      const res = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/predict`, payload: { inputs: [origin, ...units] } });
      const [bias, ...rows] = res.json<{ outputs: number[][] }>().outputs;
      const kernel = rows.map((row) => row.map((v, k) => v - bias![k]!));
      const final = c.trajectory.at(-1)!.layers[0]!;
      // predict(e_i) - predict(0) loses a few float32 digits; 1e-3 is the public tolerance.
      kernel.flat().forEach((v, i) => expect(Math.abs(v - final.kernel.flat()[i]!)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(final.kernel.flat()[i]!))));
      bias!.forEach((v, i) => expect(Math.abs(v - final.bias[i]!)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(final.bias[i]!))));
      const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
      expect(record.engine).toEqual({ name: ENGINES[0] });
      expect(events.at(-1)!.data.engine).toEqual({ name: ENGINES[0] });
      expect(record.history.at(-1)!.loss).toBeCloseTo(c.trajectory.at(-1)!.loss, 4);
    },
  );
});
