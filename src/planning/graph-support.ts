import type { LayerSpec } from '../spec/layers.js';
import type { PreparedJobSpec } from '../spec/job-spec.js';

/** The training engines: `graph` runs a whole step as one TensorFlow graph, `eager` op by op in tfjs. */
export type EngineName = 'graph' | 'eager';

/**
 * Layer types without a graph builder yet (src/training/graph/layers.ts), and why: a job with
 * one of them trains on the eager engine (`auto`) or is refused (`graph`).
 */
const NO_GRAPH_BUILDER: Partial<Record<LayerSpec['type'], string>> = {
  timeDistributed: 'it has no graph builder yet',
};

const RECURRENT = new Set<string>(['simpleRNN', 'lstm', 'gru']);

export interface GraphSupport {
  supported: boolean;
  /** Where the spec needs the eager engine (a JSON path), and why. */
  path?: (string | number)[];
  reason?: string;
}

/**
 * Whether every part of a job has a graph builder (the graph engine's coverage, decided from the
 * spec alone so the API can check it at submission without loading TensorFlow). Losses, metrics,
 * optimizers, clipping, regularizers and schedules all have one; some layer types do not yet.
 */
export function graphSupport(spec: Pick<PreparedJobSpec, 'model'>): GraphSupport {
  for (const [index, layer] of spec.model.layers.entries()) {
    const why = NO_GRAPH_BUILDER[layer.type];
    if (why) return { supported: false, path: ['model', 'layers', index], reason: `layer ${index} (${layer.type}): ${why}` };
    const rnn = layer.type === 'bidirectional' ? layer.layer : RECURRENT.has(layer.type) ? layer : undefined;
    if (rnn && 'dropout' in rnn && (rnn.dropout > 0 || rnn.recurrentDropout > 0)) {
      return { supported: false, path: ['model', 'layers', index], reason: `layer ${index} (${layer.type}): recurrent dropout masks are not in the graph yet` };
    }
    const dilation = 'dilationRate' in layer ? [layer.dilationRate].flat() : [];
    if (dilation.some((d) => d !== undefined && d !== 1)) {
      // TensorFlow's CPU (oneDNN) convolution gradient aborts the process on a dilation above 1.
      return {
        supported: false,
        path: ['model', 'layers', index, 'dilationRate'],
        reason: `layer ${index} (${layer.type}): dilated convolutions have no CPU gradient kernel`,
      };
    }
  }
  return { supported: true };
}
