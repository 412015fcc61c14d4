import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { type EngineName, graphSupport } from '../planning/graph-support.js';
import type { ResolvedJobSpec } from '../spec/index.js';
import { type GraphAddon, loadGraphAddon } from './graph/native.js';

export type { EngineName };

/** Which engine trains a job, and why `auto` did not take the graph engine when it did not. */
export interface EngineChoice {
  engine: EngineName;
  fallbackReason?: string;
}

/** The job asked for the graph engine and this worker cannot give it. */
export class EngineUnavailableError extends Error {}

/**
 * Session thread pools of the graph engine. Measured on 2 cores (npm run bench -- training):
 * intra-op threads = the cores, one inter-op thread; tfjs' own pools sit idle while a graph
 * step runs, so the two do not compete.
 */
export const GRAPH_THREADS = { intraOp: Math.max(1, availableParallelism()), interOp: 1 };

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
