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
 * Session thread pools of the graph engine: as many intra- and inter-op threads as cores, what
 * TensorFlow (and so Keras in the bench) takes by default. On the shared 2-core machine, 1/1,
 * 2/1 and 2/2 measured within noise of each other (best of 3: MLP b32 24k/19k/28k samples/s,
 * b128 60k/51k/56k; CNN b32 7.1k/7.1k/7.3k, b128 10.5k/8.9k/8.9k), 2/2 best at batch 32.
 * tfjs' own pools sit idle while a graph step runs, so the two never compete for the cores.
 */
export const GRAPH_THREADS = { intraOp: Math.max(1, availableParallelism()), interOp: Math.max(1, availableParallelism()) };

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
