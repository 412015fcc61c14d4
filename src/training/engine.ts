import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { type EngineName, graphSupport } from '../planning/graph-support.js';
import type { ResolvedJobSpec } from '../spec/index.js';
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

/**
 * Session thread pools of the graph engine: as many intra-op threads as cores (what TensorFlow,
 * and so Keras in the bench, takes by default), and the ops run one after another in the thread
 * that calls the session (interOp -1) instead of hopping to an inter-op pool and back: a step's
 * ops form a chain with little to run side by side, and every hop to a woken thread costs most
 * on a loaded machine. Measured on the shared 2-core machine, one process, the MNIST MLP at
 * batch 32, interleaved (p25 / median µs per step): a libuv-pool run on 2 inter-op threads
 * 1,062 / 1,286; a synchronous run on them 901 / 920; synchronous in the calling thread 898 /
 * 911 (1 intra-op thread: 934 / 947). The CNN at batch 128 measured the same with 2 inter-op
 * threads or none. tfjs' own pools sit idle while a graph step runs, so the two never compete
 * for the cores.
 */
export const GRAPH_THREADS = { intraOp: Math.max(1, availableParallelism()), interOp: -1 };

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
