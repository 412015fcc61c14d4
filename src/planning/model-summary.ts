import { z } from 'zod';
import { type InnerLayerSpec, type LayerSpec, type LayerType, LAYER_TYPES } from '../spec/layers.js';
import { type GraphIssue, type ModelGraph, type ModelSpec, resolveGraph } from '../spec/model.js';
import { type OptimizerSpec, optimizerSchema, optimizerSlots } from '../spec/optimizers.js';
import { elementCount, shapeText } from '../spec/datasets.js';

/*
 * Shapes, parameter counts, FLOPs and memory of a model, computed from its spec alone (no
 * tfjs): the API answers POST /v1/models/summary and refuses oversized jobs with it before they
 * are queued. Shapes exclude the batch axis; parameter counts equal tfjs' countParams() (a test
 * checks every layer type).
 */

const shapeOut = z.array(z.number().int());

export const layerSummarySchema = z.object({
  name: z.string(),
  type: z.enum(LAYER_TYPES as [LayerType, ...LayerType[]]),
  inputs: z.array(z.string()),
  outputShape: shapeOut.describe('Without the batch axis.'),
  params: z.number(),
  trainableParams: z.number(),
  flops: z.number().describe('Forward pass, per sample (a multiply-add counts 2).'),
});
export type LayerSummary = z.infer<typeof layerSummarySchema>;

export const modelSummarySchema = z.object({
  inputs: z.array(z.object({ name: z.string(), shape: shapeOut })),
  layers: z.array(layerSummarySchema),
  outputShape: shapeOut,
  totalParams: z.number(),
  trainableParams: z.number(),
  nonTrainableParams: z.number().describe('e.g. batch normalization moving statistics.'),
  flopsPerSample: z.number().describe('Forward pass; a training step costs about 3x this per sample.'),
});
export type ModelSummary = z.infer<typeof modelSummarySchema>;

/** Memory of one training step, float32 throughout. */
export const memoryEstimateSchema = z.object({
  batchSize: z.number().int(),
  parametersBytes: z.number(),
  gradientsBytes: z.number(),
  optimizerStateBytes: z.number(),
  activationsBytes: z.number().describe('Layer outputs of one batch, kept for the backward pass, and their gradients.'),
  totalBytes: z.number(),
});
export type MemoryEstimate = z.infer<typeof memoryEstimateSchema>;

const BYTES = 4;

class ShapeError extends Error {}

interface LayerResult {
  shape: number[];
  params: number;
  trainable: number;
  flops: number;
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** Output length of a window of size k (dilated) sliding with stride s over n, as tfjs computes it. */
function windowed(n: number, k: number, s: number, padding: 'valid' | 'same', dilation = 1, what = 'window'): number {
  if (padding === 'same') return Math.ceil(n / s);
  const span = (k - 1) * dilation + 1;
  if (span > n) throw new ShapeError(`the ${what} (${span}) is larger than the input (${n})`);
  return Math.floor((n - span) / s) + 1;
}

function rank(shape: number[], want: number, type: string, what: string): void {
  if (shape.length !== want) throw new ShapeError(`${type} needs ${what}, got shape ${shapeText(shape)}`);
}

const weightsOnly = (params: number, shape: number[], flops = 0): LayerResult => ({ shape, params, trainable: params, flops });
const passThrough = (shape: number[], flops = 0): LayerResult => ({ shape, params: 0, trainable: 0, flops });

function recurrent(layer: Extract<InnerLayerSpec, { type: 'simpleRNN' | 'lstm' | 'gru' }>, input: number[]): LayerResult {
  rank(input, 2, layer.type, 'sequences [timesteps, features]');
  const [steps, features] = input as [number, number];
  const gates = layer.type === 'lstm' ? 4 : layer.type === 'gru' ? 3 : 1;
  const u = layer.units;
  const params = gates * (features * u + u * u + (layer.useBias ? u : 0));
  return weightsOnly(params, layer.returnSequences ? [steps, u] : [u], 2 * steps * gates * (features * u + u * u));
}

function innerLayer(layer: InnerLayerSpec, input: number[]): LayerResult {
  switch (layer.type) {
    case 'dense': {
      const inDim = input[input.length - 1]!;
      const params = inDim * layer.units + (layer.useBias ? layer.units : 0);
      return weightsOnly(params, [...input.slice(0, -1), layer.units], 2 * inDim * layer.units * elementCount(input.slice(0, -1)));
    }
    case 'dropout':
    case 'activation':
      return passThrough(input);
    case 'simpleRNN':
    case 'lstm':
    case 'gru':
      return recurrent(layer, input);
  }
}

function mergeShapes(layer: Extract<LayerSpec, { type: 'add' | 'multiply' | 'average' | 'concatenate' }>, shapes: number[][]): LayerResult {
  const first = shapes[0]!;
  if (layer.type !== 'concatenate') {
    shapes.forEach((s, i) => {
      if (s.join(',') !== first.join(',')) {
        throw new ShapeError(
          `${layer.type} needs inputs of one shape: \`${layer.inputs[0]}\` is ${shapeText(first)}, \`${layer.inputs[i]}\` is ${shapeText(s)}`,
        );
      }
    });
    return passThrough(first, elementCount(first) * (shapes.length - 1));
  }
  // Keras' axis counts the batch axis: 1 is a sample's first axis, -1 its last.
  const axis = layer.axis < 0 ? first.length + layer.axis : layer.axis - 1;
  if (axis < 0 || axis >= first.length) throw new ShapeError(`axis ${layer.axis} does not exist for inputs of rank ${first.length + 1} (with the batch axis)`);
  shapes.forEach((s, i) => {
    const same = s.length === first.length && s.every((d, j) => j === axis || d === first[j]);
    if (!same) {
      throw new ShapeError(
        `concatenate on axis ${layer.axis} needs inputs equal on the other axes: \`${layer.inputs[0]}\` is ${shapeText(first)}, \`${layer.inputs[i]}\` is ${shapeText(s)}`,
      );
    }
  });
  const out = [...first];
  out[axis] = shapes.reduce((sum, s) => sum + s[axis]!, 0);
  return passThrough(out);
}

function layerResult(layer: LayerSpec, shapes: number[][]): LayerResult {
  const input = shapes[0]!;
  switch (layer.type) {
    case 'dense':
    case 'dropout':
    case 'activation':
    case 'simpleRNN':
    case 'lstm':
    case 'gru':
      return innerLayer(layer, input);
    case 'flatten':
      // tfjs' Flatten needs at least two axes per sample (a vector is already flat).
      if (input.length < 2) throw new ShapeError(`flatten needs samples with two or more axes; ${shapeText(input)} is already flat, leave it out`);
      return passThrough([elementCount(input)]);
    case 'reshape': {
      const unknown = layer.targetShape.filter((d) => d === -1).length;
      if (unknown > 1) throw new ShapeError('reshape: at most one dimension may be -1');
      const known = elementCount(layer.targetShape.filter((d) => d !== -1));
      const size = elementCount(input);
      if (unknown === 0 ? known !== size : size % known !== 0) {
        throw new ShapeError(`reshape: ${shapeText(input)} (${size} values) cannot become ${shapeText(layer.targetShape)}`);
      }
      return passThrough(layer.targetShape.map((d) => (d === -1 ? size / known : d)));
    }
    case 'batchNormalization': {
      const c = input[input.length - 1]!;
      return { shape: input, params: 4 * c, trainable: 2 * c, flops: 4 * elementCount(input) };
    }
    case 'layerNormalization': {
      const c = input[input.length - 1]!;
      return weightsOnly(((layer.center ? 1 : 0) + (layer.scale ? 1 : 0)) * c, input, 5 * elementCount(input));
    }
    case 'conv1d': {
      rank(input, 2, 'conv1d', 'sequences [steps, channels]');
      if (layer.strides > 1 && layer.dilationRate > 1) throw new ShapeError('conv1d: strides and dilationRate cannot both be above 1');
      const [steps, channels] = input as [number, number];
      const out = windowed(steps, layer.kernelSize, layer.strides, layer.padding, layer.dilationRate, 'kernel');
      const params = layer.kernelSize * channels * layer.filters + (layer.useBias ? layer.filters : 0);
      return weightsOnly(params, [out, layer.filters], 2 * layer.kernelSize * channels * layer.filters * out);
    }
    case 'conv2d':
    case 'depthwiseConv2d':
    case 'separableConv2d': {
      rank(input, 3, layer.type, 'images [height, width, channels]');
      const [h, w, channels] = input as [number, number, number];
      const [kh, kw] = pair(layer.kernelSize);
      const [sh, sw] = pair(layer.strides);
      const [dh, dw] = layer.type === 'conv2d' ? pair(layer.dilationRate) : [1, 1];
      if ((sh > 1 || sw > 1) && (dh > 1 || dw > 1)) throw new ShapeError(`${layer.type}: strides and dilationRate cannot both be above 1`);
      const oh = windowed(h, kh, sh, layer.padding, dh, 'kernel');
      const ow = windowed(w, kw, sw, layer.padding, dw, 'kernel');
      const positions = oh * ow;
      if (layer.type === 'conv2d') {
        const params = kh * kw * channels * layer.filters + (layer.useBias ? layer.filters : 0);
        return weightsOnly(params, [oh, ow, layer.filters], 2 * kh * kw * channels * layer.filters * positions);
      }
      const depth = channels * layer.depthMultiplier;
      const depthwiseFlops = 2 * kh * kw * depth * positions;
      if (layer.type === 'depthwiseConv2d') {
        return weightsOnly(kh * kw * depth + (layer.useBias ? depth : 0), [oh, ow, depth], depthwiseFlops);
      }
      const params = kh * kw * depth + depth * layer.filters + (layer.useBias ? layer.filters : 0);
      return weightsOnly(params, [oh, ow, layer.filters], depthwiseFlops + 2 * depth * layer.filters * positions);
    }
    case 'maxPooling1d':
    case 'averagePooling1d': {
      rank(input, 2, layer.type, 'sequences [steps, channels]');
      const out = windowed(input[0]!, layer.poolSize, layer.strides ?? layer.poolSize, layer.padding, 1, 'pool');
      return passThrough([out, input[1]!], out * input[1]! * layer.poolSize);
    }
    case 'maxPooling2d':
    case 'averagePooling2d': {
      rank(input, 3, layer.type, 'images [height, width, channels]');
      const [ph, pw] = pair(layer.poolSize);
      const [sh, sw] = pair(layer.strides ?? layer.poolSize);
      const oh = windowed(input[0]!, ph, sh, layer.padding, 1, 'pool');
      const ow = windowed(input[1]!, pw, sw, layer.padding, 1, 'pool');
      return passThrough([oh, ow, input[2]!], oh * ow * input[2]! * ph * pw);
    }
    case 'globalMaxPooling1d':
    case 'globalAveragePooling1d':
      rank(input, 2, layer.type, 'sequences [steps, channels]');
      return passThrough([input[1]!], elementCount(input));
    case 'globalMaxPooling2d':
    case 'globalAveragePooling2d':
      rank(input, 3, layer.type, 'images [height, width, channels]');
      return passThrough([input[2]!], elementCount(input));
    case 'embedding':
      return weightsOnly(layer.inputDim * layer.outputDim, [...input, layer.outputDim]);
    case 'bidirectional': {
      const one = recurrent(layer.layer, input);
      const shape = [...one.shape];
      if (layer.mergeMode === 'concat') shape[shape.length - 1]! *= 2;
      return weightsOnly(2 * one.params, shape, 2 * one.flops);
    }
    case 'timeDistributed': {
      if (input.length < 2) throw new ShapeError(`timeDistributed needs inputs with a time axis, got shape ${shapeText(input)}`);
      const inner = innerLayer(layer.layer, input.slice(1));
      return { ...inner, shape: [input[0]!, ...inner.shape], flops: inner.flops * input[0]! };
    }
    case 'add':
    case 'multiply':
    case 'average':
    case 'concatenate':
      return mergeShapes(layer, shapes);
  }
}

/** Summarises a model; shape problems come back as issues with the path of the layer at fault. */
export function summarizeModel(model: ModelSpec): { summary?: ModelSummary; issues: GraphIssue[] } {
  const resolved = resolveGraph(model);
  if (!resolved.graph) return { issues: resolved.issues };
  return summarizeGraph(resolved.graph);
}

function summarizeGraph(graph: ModelGraph): { summary?: ModelSummary; issues: GraphIssue[] } {
  const shapes = new Map(graph.inputs.map((i) => [i.name, i.shape]));
  const layers: LayerSummary[] = [];
  for (const node of graph.nodes) {
    try {
      const r = layerResult(
        node.spec,
        node.inputs.map((name) => shapes.get(name)!),
      );
      // A size beyond 2^53 is no exact integer: no model that large can be summarised, let alone trained.
      if (r.shape.some((d) => !Number.isSafeInteger(d) || d < 1)) throw new ShapeError(`the output would have shape ${shapeText(r.shape)}`);
      shapes.set(node.name, r.shape);
      layers.push({
        name: node.name,
        type: node.spec.type,
        inputs: node.inputs,
        outputShape: r.shape,
        params: r.params,
        trainableParams: r.trainable,
        flops: r.flops,
      });
    } catch (err) {
      if (!(err instanceof ShapeError)) throw err;
      const inputs = node.inputs.map((name) => shapeText(shapes.get(name)!)).join(' and ');
      return { issues: [{ path: ['model', 'layers', node.index], message: `layer \`${node.name}\` (input ${inputs}): ${err.message}` }] };
    }
  }
  const totalParams = layers.reduce((s, l) => s + l.params, 0);
  const trainableParams = layers.reduce((s, l) => s + l.trainableParams, 0);
  return {
    summary: {
      inputs: graph.inputs,
      layers,
      outputShape: shapes.get(graph.output)!,
      totalParams,
      trainableParams,
      nonTrainableParams: totalParams - trainableParams,
      flopsPerSample: layers.reduce((s, l) => s + l.flops, 0),
    },
    issues: [],
  };
}

const DEFAULT_OPTIMIZER = optimizerSchema.parse({ name: 'adam' });

/** A training step costs about a forward pass plus a backward pass of twice its cost. */
export const TRAINING_FLOPS_FACTOR = 3;

/** FLOPs of a whole job: forward and backward over every sample of every epoch. */
export function trainingFlops(summary: ModelSummary, samples: number, epochs: number): number {
  return TRAINING_FLOPS_FACTOR * summary.flopsPerSample * samples * epochs;
}

/** Memory one training step needs, float32 throughout (an estimate: the backend adds workspace). */
export function estimateTrainingMemory(summary: ModelSummary, batchSize: number, optimizer: OptimizerSpec = DEFAULT_OPTIMIZER): MemoryEstimate {
  const parametersBytes = summary.totalParams * BYTES;
  const gradientsBytes = summary.trainableParams * BYTES;
  const optimizerStateBytes = summary.trainableParams * optimizerSlots(optimizer) * BYTES;
  const perSample = summary.inputs.reduce((s, i) => s + elementCount(i.shape), 0) + summary.layers.reduce((s, l) => s + elementCount(l.outputShape), 0);
  const activationsBytes = 2 * perSample * batchSize * BYTES;
  return {
    batchSize,
    parametersBytes,
    gradientsBytes,
    optimizerStateBytes,
    activationsBytes,
    totalBytes: parametersBytes + gradientsBytes + optimizerStateBytes + activationsBytes,
  };
}
