import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { type EngineName, graphSupport } from '../planning/graph-support.js';
import type { LayerSpec, ModelSpec, ResolvedJobSpec } from '../spec/index.js';
import { TrainingError } from './errors.js';
import { type GraphAddon, loadGraphAddon } from './graph/native.js';

export type { EngineName };

/** Which engine trains a job, and why `auto` did not take the graph engine when it did not. */
export interface EngineChoice {
  engine: EngineName;
  fallbackReason?: string;
}

/** The job asked for the graph engine and this worker cannot give it. */
export class EngineUnavailableError extends TrainingError {
  readonly code = 'engine_unavailable';
}

/** Layer types whose graph takes the inter-op pool (see graphThreads). */
const CONVOLUTIONS = new Set<LayerSpec['type']>(['conv1d', 'conv2d', 'depthwiseConv2d', 'separableConv2d']);

/**
 * Session thread pools of the graph engine for a model: as many intra-op threads as cores (what
 * TensorFlow, and so Keras in the bench, takes by default), and the session is always called
 * synchronously (a hop to the libuv pool and back costs most on a loaded machine: the MNIST MLP
 * took 1.15-1.27x the wall time and 1.09-1.14x the CPU of a synchronous call, the CNN 1.03-1.05x).
 * A model with a convolution gets an inter-op pool of as many threads as cores, so independent
 * ops (a convolution's filter and input gradients) can run side by side; any other model runs
 * its ops one after another in the calling thread (inter-op -1), which the MLP measured the same
 * as with the pool. `npm run bench -- threads` on the shared 2-core machine (load average 8-13):
 * the CNN at batch 128 in separate processes, median epoch 997 ms in the calling thread (14
 * runs) against 757 ms with the pool (9 runs), the same CPU time (798 and 808 ms); interleaved in one
 * process 0.96x (batch 32: 1.0x). See docs/performance.md, "Session threading per model".
 */
export function graphThreads(model: Pick<ModelSpec, 'layers'>): { intraOp: number; interOp: number } {
  const cores = Math.max(1, availableParallelism());
  return { intraOp: cores, interOp: model.layers.some((l) => CONVOLUTIONS.has(l.type)) ? cores : -1 };
}

/** Whether this process can run the graph engine at all (the addon built and the native backend). */
export function graphAvailability(): { available: boolean; reason?: string; addon?: GraphAddon } {
  if (tf.getBackend() !== 'tensorflow') return { available: false, reason: `the tfjs backend is ${tf.getBackend()}, not the native tensorflow one` };
  const { addon, reason } = loadGraphAddon();
  return addon ? { available: true, addon } : { available: false, ...(reason ? { reason } : {}) };
}

/** The engine for a job: `training.engine`, with `auto` taking `graph` whenever it can. */
export function chooseEngine(spec: ResolvedJobSpec): EngineChoice & { addon?: GraphAddon } {
  const requested = spec.training.engine ?? 'auto';
  if (requested === 'eager') return { engine: 'eager' };
  const support = graphSupport(spec);
  const availability = graphAvailability();
  const reason = !support.supported ? support.reason : availability.reason;
  if (reason === undefined && availability.addon) return { engine: 'graph', addon: availability.addon };
  if (requested === 'graph') throw new EngineUnavailableError(`engine \`graph\` cannot train this job: ${reason}`);
  return { engine: 'eager', fallbackReason: reason ?? 'the graph engine is unavailable' };
}
