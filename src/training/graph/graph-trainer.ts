import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../datasets.js';
import { type Loss, type OptimizerSpec, elementCount } from '../../spec/index.js';
import { DType, type Feed, type GraphAddon, type NativeSession, type Operation, type Output } from './native.js';
import { GraphBuilder } from './ops.js';
import { type LayerView, buildLayer } from './layers.js';
import { sampleLoss, sampleMetric } from './losses.js';
import { type StepState, buildUpdate, clipGradients, nadamMu } from './optimizers.js';
import { sessionConfig } from './session-config.js';
import { MASK_SITE_STRIDE } from '../dropout.js';

type NamedTensor = { name: string; tensor: tf.Tensor };

interface Variable {
  handle: Output;
  shape: number[];
  /** Sets the variable from a fed value. */
  value: Output;
  set: Operation;
}

/** The parts of a tfjs symbolic tensor and node the graph walk reads. */
interface NodeView {
  inputTensors: { id: number }[];
  outputTensors: { id: number }[];
}

export interface GraphTrainerOptions {
  loss: Loss;
  metrics: string[];
  optimizer: OptimizerSpec;
  /**
   * The training data, copied into the graph once: a step is fed only the indices of its rows.
   * A sample is `inputShape` (the model's inputs take it split and reshaped).
   */
  data: Pick<Dataset, 'x' | 'y' | 'samples' | 'inputShape' | 'targetShape'>;
  /** Seeds the dropout masks (one per step, from this and the step number). */
  seed: number;
  threads: { intraOp: number; interOp: number };
}

/**
 * One TensorFlow graph that runs a whole training step of a tfjs model (forward, loss,
 * regularizers, gradients, clipping, the optimizer's update) in one session call. Variables
 * start from the model's weights; `writeBack` puts the trained values into the model, and the
 * optimizer state round-trips under the eager optimizer's names (so checkpoints are the same).
 */
export class GraphTrainer {
  private readonly g: GraphBuilder;
  private readonly session: NativeSession;
  /** The model's weights, in model.weights order, then the optimizer slots. */
  private readonly weights: Variable[] = [];
  private readonly reads: Output[] = [];
  private readonly slots = new Map<string, Variable & { init: number; param: number; name: string }>();
  private readonly scalars = new Map<string, { input: Output; value: (s: StepState) => number }>();
  /** The training data's samples and targets, and the rows of them a step trains on (int32 indices). */
  private readonly data: [Variable, Variable];
  private readonly rows: Output;
  private readonly stepSeed: Output;
  private readonly fetches: Output[];
  private readonly train: Operation;
  private readonly trainableNames: string[];
  /** The slots in checkpoint order (by name) and an op reading each. */
  private readonly slotOrder: { slot: Variable & { param: number; name: string }; read: Output }[];
  private step = 0;
  private muProduct = 1;
  private seedSites = 0;
  private closed = false;

  constructor(
    addon: GraphAddon,
    private readonly model: tf.LayersModel,
    private readonly options: GraphTrainerOptions,
  ) {
    const g = (this.g = new GraphBuilder(addon));
    try {
      const index = new Map<number, number>();
      model.weights.forEach((w, i) => {
        index.set(w.id, i);
        this.weights.push(this.newVariable(w.shape as number[]));
      });
      const readOps: Operation[] = [];
      for (const v of this.weights) {
        const r = g.read(v.handle);
        this.reads.push(r);
        readOps.push(r[0]);
      }
      const { data } = options;
      const dataX = this.newVariable([data.samples, ...data.inputShape]);
      const dataY = this.newVariable([data.samples, ...data.targetShape]);
      this.rows = g.placeholder(DType.int32, [-1]);
      const x = g.rows(g.read(dataX.handle), this.rows);
      const y = g.rows(g.read(dataY.handle), this.rows);
      this.stepSeed = g.placeholder(DType.int32, [2]);
      const tensors = new Map<number, Output>();
      const inputs = model.inputs.map((i) => i.shape.slice(1) as number[]);
      if (inputs.length === 1) {
        tensors.set(model.inputs[0]!.id, g.reshape(x, [-1, ...inputs[0]!]));
      } else {
        const flat = g.reshape(x, [-1, elementCount(data.inputShape)]);
        let offset = 0;
        model.inputs.forEach((input, k) => {
          const size = elementCount(inputs[k]!);
          tensors.set(input.id, g.reshape(g.columns(flat, offset, size), [-1, ...inputs[k]!]));
          offset += size;
        });
      }
      const penalties: Output[] = [];
      /** Assignments of non-trainable weights (batch-norm moving moments) that each step makes. */
      const stateUpdates: Operation[] = [];
      for (const layer of model.layers) {
        const view = layer as unknown as LayerView & { inboundNodes: NodeView[] };
        if (view.getClassName() === 'InputLayer') continue;
        const node = view.inboundNodes[0]!;
        const ctx = {
          g,
          weight: (i: number) => this.reads[index.get(view.weights[i]!.id)!]!,
          addLoss: (term: Output) => penalties.push(term),
          update: (i: number, value: Output) => stateUpdates.push(g.assign(this.weights[index.get(view.weights[i]!.id)!]!.handle, value)),
          seed: () => g.out('AddV2', [this.stepSeed, g.ints([++this.seedSites * MASK_SITE_STRIDE, 0])]),
        };
        const out = buildLayer(
          ctx,
          view,
          node.inputTensors.map((t) => tensors.get(t.id)!),
        );
        tensors.set(node.outputTensors[0]!.id, out);
      }
      const yPred = tensors.get(model.outputs[0]!.id)!;
      const mean = (x: Output) => g.mean(x, [0]);
      const loss = g.addN([mean(sampleLoss(g, options.loss, y, yPred)), ...penalties]);
      this.fetches = [loss, ...options.metrics.map((m) => mean(sampleMetric(g, m, options.loss, y, yPred)))];

      const trainable = model.weights.map((w, i) => ({ w, i })).filter(({ w }) => w.trainable);
      this.trainableNames = trainable.map(({ w }) => w.name);
      const grads = clipGradients(
        g,
        g.graph.addGradients(
          [loss],
          trainable.map(({ i }) => this.reads[i]!),
          'gradients',
        ),
        options.optimizer.clipValue,
        options.optimizer.clipNorm,
      );
      // Updates wait for every gradient too, so every op that reads a weight (the backward
      // pass's input gradients) has run first: an update that finds its variable's buffer still
      // read copies the whole variable before writing it (measured: 250 µs of an MLP step).
      const after = [...readOps, ...grads.map(([op]) => op)];
      const updates = trainable.flatMap(({ i }, k) => {
        const ctx = {
          g,
          after,
          slot: (name: string, init = 0) => this.slot(k, name, init, this.weights[i]!.shape),
          scalar: (name: string, value: (s: StepState) => number) => this.scalar(name, value),
        };
        return buildUpdate(ctx, options.optimizer, { handle: this.weights[i]!.handle, value: this.reads[i]!, grad: grads[k]! });
      });
      this.train = g.group([...updates, ...stateUpdates]);
      this.slotOrder = [...this.slots.values()]
        .sort((a, b) => this.slotName(a).localeCompare(this.slotName(b)))
        .map((slot) => ({ slot, read: g.read(slot.handle) }));
      this.session = new addon.Session(g.graph, sessionConfig(options.threads));
      this.data = [dataX, dataY];
    } catch (err) {
      g.delete();
      throw err;
    }
    this.assign([
      [this.data[0], options.data.x],
      [this.data[1], options.data.y],
    ]);
    this.loadModelWeights();
    this.resetSlots();
  }

  private newVariable(shape: number[]): Variable {
    const handle = this.g.variable(shape);
    const value = this.g.placeholder(DType.float32, shape);
    return { handle, shape, value, set: this.g.assign(handle, value) };
  }

  private slot(param: number, name: string, init: number, shape: number[]): Output {
    const key = `${param}/${name}`;
    let s = this.slots.get(key);
    if (!s) this.slots.set(key, (s = { ...this.newVariable(shape), init, param, name }));
    return s.handle;
  }

  private scalar(name: string, value: (s: StepState) => number): Output {
    let s = this.scalars.get(name);
    if (!s) this.scalars.set(name, (s = { input: this.g.placeholder(DType.float32, []), value }));
    return s.input;
  }

  private assign(pairs: [Variable, Float32Array][]): void {
    if (pairs.length === 0) return;
    this.session.run(
      pairs.map(([v, data]) => [v.value, DType.float32, v.shape, data] as Feed),
      [],
      pairs.map(([v]) => v.set),
    );
  }

  /** Sets the variables from the model's current weights. */
  loadModelWeights(): void {
    this.assign(this.model.weights.map((w, i) => [this.weights[i]!, w.read().dataSync() as Float32Array]));
  }

  private resetSlots(): void {
    this.assign([...this.slots.values()].map((s) => [s, new Float32Array(elementCount(s.shape)).fill(s.init)]));
  }

  /**
   * One training step on a batch (the indices of its rows in the data); returns [loss, ...metrics]
   * of the batch, computed before the update as tfjs' trainOnBatch does. Synchronous: a step is
   * about a millisecond, and a hop to the libuv pool and back costs a tenth of that (more on a
   * loaded machine, where each woken thread waits for a core), so the caller yields to the event
   * loop between steps as often as it needs to.
   */
  trainBatch(rows: Int32Array, lr: number): number[] {
    return this.session.run(this.stepFeeds(rows, lr), this.fetches, [this.train]).map((t) => t.data[0]!);
  }

  /** trainBatch as a session call on the libuv pool (the main thread stays free while it runs). */
  async trainBatchAsync(rows: Int32Array, lr: number): Promise<number[]> {
    return (await this.session.runAsync(this.stepFeeds(rows, lr), this.fetches, [this.train])).map((t) => t.data[0]!);
  }

  /** Advances the step count and the optimizer's step state; the feeds of that step. */
  private stepFeeds(rows: Int32Array, lr: number): Feed[] {
    this.step += 1;
    const o = this.options.optimizer;
    let mu = 0;
    let muNext = 0;
    if (o.name === 'nadam') {
      mu = nadamMu(o, this.step);
      muNext = nadamMu(o, this.step + 1);
      this.muProduct *= mu;
    }
    const state: StepState = { t: this.step, lr, mu, muNext, muProduct: this.muProduct };
    return [
      [this.rows, DType.int32, [rows.length], rows],
      [this.stepSeed, DType.int32, [2], new Int32Array([this.options.seed, this.step])],
      ...[...this.scalars.values()].map((s) => [s.input, DType.float32, [], new Float32Array([s.value(state)])] as Feed),
    ];
  }

  /** Writes the trained variables into the model's weights. */
  writeBack(): void {
    const values = this.session.run([], this.reads, []);
    const tensors = values.map((v) => tf.tensor(v.data as Float32Array, v.shape));
    this.model.setWeights(tensors);
    tf.dispose(tensors);
  }

  /** The optimizer state, named as TorchOptimizer.getWeights names it. */
  async getWeights(): Promise<NamedTensor[]> {
    const values = this.slotOrder.length
      ? this.session.run(
          [],
          this.slotOrder.map((s) => s.read),
          [],
        )
      : [];
    return [
      { name: 'iter', tensor: tf.scalar(this.step, 'int32') },
      ...this.slotOrder.map(({ slot }, i) => ({ name: this.slotName(slot), tensor: tf.tensor(values[i]!.data as Float32Array, slot.shape) })),
    ];
  }

  private slotName(s: { param: number; name: string }): string {
    return `${this.trainableNames[s.param]}/${s.name}`;
  }

  /** Restores the optimizer state (and the weights, from the model) as a checkpoint holds them. */
  async setWeights(weights: NamedTensor[]): Promise<void> {
    const byName = new Map([...this.slots.values()].map((s) => [this.slotName(s), s]));
    const pairs: [Variable, Float32Array][] = [];
    for (const { name, tensor } of weights) {
      if (name === 'iter') {
        this.step = (await tensor.data())[0]!;
        const o = this.options.optimizer;
        this.muProduct = 1;
        if (o.name === 'nadam') for (let i = 1; i <= this.step; i++) this.muProduct *= nadamMu(o, i);
        continue;
      }
      const s = byName.get(name);
      if (s) pairs.push([s, (await tensor.data()) as Float32Array]);
    }
    this.assign(pairs);
    this.loadModelWeights();
  }

  /** Closes the session and frees the graph (idempotent). */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.close();
    this.g.delete();
  }
}
