import * as tf from '@tensorflow/tfjs';
import { type EpochReport, type ResolvedJobSpec, type StoppedEarly } from '../spec/index.js';
import { effectiveBatchSize } from '../planning/index.js';
import { type Dataset, loadDataset, loadHoldout } from './datasets.js';
import { DivergedError, InvalidModelError, TrainingAbortedError, TrainingError } from './errors.js';
import { buildModel, modelInputs } from './model.js';
import { attachPreprocessing, prepareData } from './preprocessing.js';
import { createOptimizer } from './optimizers.js';
import { compiledMetrics } from './metrics.js';
import { createRng, deriveSeed, permutation } from './rng.js';
import { EarlyStopper, LrScheduler } from './schedule.js';
import { type TrainingState, captureState, restoreState } from './checkpoint.js';
import { type EngineChoice, EngineUnavailableError, chooseEngine, graphThreads } from './engine.js';
import { GraphTrainer } from './graph/graph-trainer.js';
import { DropoutMasks } from './dropout.js';

export interface TrainOptions {
  /** Called after each epoch; answering 'stop' ends training there (an experiment's scheduler stopped the trial). */
  onEpochEnd?: (report: EpochReport, model: tf.LayersModel) => void | 'stop' | Promise<void | 'stop'>;
  /** Runs once on the built model before training (e.g. to set known initial weights). */
  prepareModel?: (model: tf.LayersModel) => void;
  /** Checked between batches: training stops within one batch of an abort (the graph engine: within a few ms more). */
  signal?: AbortSignal;
  /** The data, already loaded (an uploaded dataset); default: loadDataset(spec.dataset). */
  data?: Dataset;
  /** The holdout, already loaded (an uploaded one); default: loadDataset(spec.training.validationData). */
  validationData?: Dataset;
  /** Continue from a checkpoint instead of starting at epoch 1. */
  resume?: TrainingState;
  /** Called with the full training state after every `every`-th epoch, before onEpochEnd. */
  checkpoint?: { every: number; minIntervalMs?: number; save: (state: TrainingState) => Promise<void> };
  /** Called once the engine is decided, before the first epoch. */
  onEngine?: (choice: EngineChoice) => void | Promise<void>;
}

export interface TrainResult {
  model: tf.LayersModel;
  history: EpochReport[];
  engine: EngineChoice;
  /** Set when early stopping ended training before the last epoch. */
  stoppedEarly?: StoppedEarly;
  /** Set when onEpochEnd asked to stop before the last epoch: the last epoch trained. */
  stoppedAt?: number;
}

export { EngineUnavailableError };

/**
 * Trains a model on the spec's dataset and returns it (the caller disposes it). Batches come from
 * a seeded permutation per epoch, so a seeded job sees the same batches on every run and backend.
 */
export async function train(spec: ResolvedJobSpec, options: TrainOptions = {}): Promise<TrainResult> {
  const seed = spec.training.seed;
  const data = options.data ?? loadDataset(spec.dataset, seed);
  const holdout = options.validationData ?? (spec.training.validationData && loadHoldout(spec.training.validationData, spec.dataset, seed));
  const prepared = prepareData(spec, data, holdout);
  let model: tf.LayersModel;
  const masks = new DropoutMasks(seed);
  try {
    model = buildModel(spec.model, seed, masks);
  } catch (err) {
    throw err instanceof InvalidModelError ? err : new InvalidModelError((err as Error).message);
  }
  options.prepareModel?.(model);
  attachPreprocessing(model, prepared.state);
  const optimizer = createOptimizer(spec.optimizer);
  const t = spec.training;
  const scheduler = new LrScheduler(spec.optimizer.learningRate, t.lrSchedule, t.warmup, t.epochs);
  const stopper = t.earlyStopping ? new EarlyStopper(t.earlyStopping) : undefined;
  let bestWeights: tf.Tensor[] | undefined;
  const tensors: tf.Tensor[] = [];
  let graph: GraphTrainer | undefined;
  try {
    try {
      model.compile({ optimizer, loss: spec.loss, metrics: compiledMetrics(spec.metrics) });
    } catch (err) {
      throw new InvalidModelError((err as Error).message);
    }
    const { addon, ...engine } = chooseEngine(spec);
    if (addon) {
      try {
        graph = new GraphTrainer(addon, model, {
          loss: spec.loss,
          metrics: spec.metrics,
          optimizer: spec.optimizer,
          data: prepared.train,
          seed,
          threads: graphThreads(spec.model),
        });
      } catch (err) {
        const reason = `the graph did not build: ${(err as Error).message.split('\n')[0]}`;
        if (spec.training.engine === 'graph') throw new EngineUnavailableError(reason);
        Object.assign(engine, { engine: 'eager', fallbackReason: reason });
      }
    }
    await options.onEngine?.(engine);
    const split = toTensors(graph ? undefined : prepared.train, prepared.val);
    if (split.train) tensors.push(split.train.x, split.train.y);
    if (split.val) tensors.push(split.val.x, split.val.y);
    const n = prepared.train.samples;
    const batchSize = effectiveBatchSize(t.batchSize, n);
    const history: EpochReport[] = [];
    let lastCheckpoint = -Infinity;
    /** Ends training after `epoch` because early stopping said so (the weights it kept restored). */
    const stopEarly = (epoch: number): TrainResult => {
      const restore = Boolean(t.earlyStopping?.restoreBestWeights && bestWeights);
      if (restore) model.setWeights(bestWeights!);
      return { model, history, engine, stoppedEarly: { epoch, bestEpoch: stopper!.bestEpoch, restoredBestWeights: restore } };
    };
    if (options.resume) {
      bestWeights = await restoreState(model, graph ?? optimizer, options.resume);
      let verdict: string | undefined;
      for (const report of options.resume.history) {
        history.push(report);
        scheduler.observe(report.epoch - 1, report);
        verdict = stopper?.update(report.epoch, report);
      }
      const last = history.at(-1);
      if (verdict === 'stop' && last && last.epoch < t.epochs) return stopEarly(last.epoch);
    }

    const firstEpoch = history.length + 1;
    for (let epoch = firstEpoch; epoch <= t.epochs; epoch++) {
      const started = performance.now();
      optimizer.learningRate = scheduler.rate(epoch - 1);
      const order = t.shuffle ? permutation(n, createRng(deriveSeed(seed, 1_000 + epoch))) : undefined;
      const first = epoch === firstEpoch;
      const nanGuard = t.terminateOnNaN ? epoch : 0;
      const sums = await firstContact(first, async () => {
        if (!graph) return runEpoch(model, masks, split.train!.x, split.train!.y, order, batchSize, options.signal, nanGuard);
        const s = await runGraphEpoch(graph, n, order, batchSize, optimizer.learningRate, options.signal, nanGuard);
        graph.writeBack();
        return s;
      });
      const report: EpochReport = {
        epoch,
        loss: finite(sums[0]!),
        ...Object.fromEntries(spec.metrics.map((m, i) => [m, finite(sums[i + 1]!)])),
        learningRate: optimizer.learningRate,
        durationMs: 0,
      };
      if (split.val) Object.assign(report, await firstContact(first, () => evaluate(model, split.val!.x, split.val!.y, batchSize, spec.metrics)));
      report.durationMs = Math.round((performance.now() - started) * 1000) / 1000;
      history.push(report);
      scheduler.observe(epoch - 1, report);
      const verdict = stopper?.update(epoch, report);
      if (verdict === 'improved' && t.earlyStopping?.restoreBestWeights) {
        tf.dispose(bestWeights);
        bestWeights = model.getWeights().map((w) => w.clone());
      }
      const cp = options.checkpoint;
      const due = cp && epoch % cp.every === 0 && performance.now() - lastCheckpoint >= (cp.minIntervalMs ?? 0);
      if (cp && (due || epoch === t.epochs || verdict === 'stop')) {
        await cp.save(await captureState(model, graph ?? optimizer, epoch, history, bestWeights));
        lastCheckpoint = performance.now();
      }
      const asked = await options.onEpochEnd?.(report, model);
      if (verdict === 'stop' && epoch < t.epochs) return stopEarly(epoch);
      if (asked === 'stop' && epoch < t.epochs) return { model, history, engine, stoppedAt: epoch };
    }
    return { model, history, engine };
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    tf.dispose(tensors);
    tf.dispose(bestWeights);
    optimizer.dispose();
    graph?.dispose();
  }
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

/**
 * The first epoch of a run is where the model meets the data, and tfjs checks shapes and dtypes
 * there: an error it throws then (not one of the engine's own) means the model cannot train on
 * this data. Later epochs see the same shapes, so what they throw is a training error.
 */
async function firstContact<T>(first: boolean, step: () => Promise<T>): Promise<T> {
  if (!first) return step();
  try {
    return await step();
  } catch (err) {
    throw err instanceof TrainingError ? err : new InvalidModelError(err instanceof Error ? err.message : String(err));
  }
}

/** One pass over the data; returns sample-weighted means of [loss, ...metrics]. */
async function runEpoch(
  model: tf.LayersModel,
  masks: DropoutMasks,
  x: tf.Tensor,
  y: tf.Tensor,
  order: Int32Array | undefined,
  batchSize: number,
  signal: AbortSignal | undefined,
  /** The epoch number when NaN/Inf losses end training, 0 to let them pass. */
  nanGuardEpoch: number,
): Promise<number[]> {
  const n = x.shape[0];
  const [xs, ys] = order
    ? tf.tidy(() => {
        const idx = tf.tensor1d(order, 'int32');
        return [tf.gather(x, idx), tf.gather(y, idx)];
      })
    : [x, y];
  const sums: number[] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      if (signal?.aborted) throw new TrainingAbortedError();
      const size = Math.min(batchSize, n - start);
      const xb = xs.slice(start, size);
      const yb = ys.slice(start, size);
      const inputs = modelInputs(model, xb);
      let out: number | number[];
      // The step's masks derive from the step number, which a checkpoint restores with the optimizer.
      masks.begin(model.optimizer.iterations + 1);
      try {
        out = await model.trainOnBatch(inputs, yb);
      } finally {
        tf.dispose([xb, yb, ...(inputs === xb ? [] : [inputs].flat())]);
      }
      const values = Array.isArray(out) ? out : [out];
      if (nanGuardEpoch > 0 && !Number.isFinite(values[0]!)) {
        throw new DivergedError(`the loss became ${values[0]} in epoch ${nanGuardEpoch}, batch ${start / batchSize + 1}`);
      }
      values.forEach((v, i) => (sums[i] = (sums[i] ?? 0) + v * size));
      // Lets control messages (cancel) in between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    if (order) tf.dispose([xs, ys]);
  }
  return sums.map((s) => s / n);
}

/**
 * How long the graph engine runs steps back to back before it lets the event loop in (control
 * messages such as cancel): a few ms, so an abort lands within that and the yields cost nothing.
 */
const GRAPH_YIELD_MS = 5;

/** runEpoch on the graph engine: each batch is one synchronous session call fed the indices of its rows. */
async function runGraphEpoch(
  graph: GraphTrainer,
  n: number,
  order: Int32Array | undefined,
  batchSize: number,
  learningRate: number,
  signal: AbortSignal | undefined,
  nanGuardEpoch: number,
): Promise<number[]> {
  const rows = order ?? Int32Array.from({ length: n }, (_, i) => i);
  const sums: number[] = [];
  let yielded = performance.now();
  for (let start = 0; start < n; start += batchSize) {
    if (performance.now() - yielded >= GRAPH_YIELD_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      yielded = performance.now();
    }
    if (signal?.aborted) throw new TrainingAbortedError();
    const size = Math.min(batchSize, n - start);
    const values = graph.trainBatch(rows.subarray(start, start + size), learningRate);
    if (nanGuardEpoch > 0 && !Number.isFinite(values[0]!)) {
      throw new DivergedError(`the loss became ${values[0]} in epoch ${nanGuardEpoch}, batch ${start / batchSize + 1}`);
    }
    values.forEach((v, i) => (sums[i] = (sums[i] ?? 0) + v * size));
  }
  return sums.map((s) => s / n);
}

async function evaluate(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, batchSize: number, metrics: string[]) {
  const inputs = modelInputs(model, x);
  const result = model.evaluate(inputs, y, { batchSize });
  if (inputs !== x) tf.dispose(inputs);
  const scalars = Array.isArray(result) ? result : [result];
  const values = await Promise.all(scalars.map(async (s) => (await s.data())[0]!));
  tf.dispose(scalars);
  return Object.fromEntries([['val_loss', finite(values[0]!)], ...metrics.map((m, i) => [`val_${m}`, finite(values[i + 1]!)])]);
}

/** The prepared training data (the eager engine's) and validation data as tensors. */
function toTensors(train: Dataset | undefined, val: Dataset | undefined) {
  const tensor = (d: Dataset) => ({ x: tf.tensor(d.x, [d.samples, ...d.inputShape]), y: tf.tensor(d.y, [d.samples, ...d.targetShape]) });
  return { train: train ? tensor(train) : undefined, val: val ? tensor(val) : undefined };
}
