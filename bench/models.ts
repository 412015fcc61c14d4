/** The two benchmark models as Descent layer specs; bench/frameworks.py builds the same ones. */
import type { JobSpecInput } from '../src/spec/index.js';

export type ModelName = 'mlp' | 'cnn';

export const MODELS: Record<ModelName, { label: string; inputShape: number[]; layers: JobSpecInput['model']['layers'] }> = {
  mlp: {
    label: 'MLP 784-256-128-10',
    inputShape: [784],
    layers: [
      { type: 'dense', units: 256, activation: 'relu' },
      { type: 'dense', units: 128, activation: 'relu' },
      { type: 'dense', units: 10, activation: 'softmax' },
    ],
  },
  cnn: {
    label: 'CNN conv16-pool-conv32-pool-10',
    inputShape: [28, 28, 1],
    layers: [
      { type: 'conv2d', filters: 16, kernelSize: 3, activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'conv2d', filters: 32, kernelSize: 3, activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 10, activation: 'softmax' },
    ],
  },
};

export interface TrainingCase {
  model: ModelName;
  batchSize: number;
  /** Samples per epoch (the first n digits). */
  samples: number;
  /** Measured epochs, after `warmupEpochs`. */
  epochs: number;
  warmupEpochs: number;
}

/** What one framework reports for one case. */
export interface TrainingResult extends TrainingCase {
  framework: string;
  /** Wall time of each epoch, warm-up included, in ms. */
  epochMs: number[];
  samplesPerSecond: number;
  finalLoss: number | null;
  error?: string;
}
