import { UnrecoverableError, type Job } from 'bullmq';
import { INVALID_INPUTS, type PredictJobData, type PredictResult } from '../src/queue/queues.js';
import type { ArtifactStore } from '../src/storage/artifact-store.js';
import { loadModel } from '../src/training/model-io.js';
import { modelInputs } from '../src/training/model.js';
import { tf } from '../src/training/backend.js';
import { applyScaling, fittedPreprocessing } from '../src/training/preprocessing.js';

/**
 * Answers predict requests from trained models. Runs in the worker process (tfjs lives there,
 * never in the API), with a small LRU of loaded models.
 */
export class PredictRunner {
  private readonly cache = new Map<string, tf.LayersModel>();

  constructor(
    private readonly store: ArtifactStore,
    private readonly cacheSize = 8,
  ) {}

  private async model(jobId: string): Promise<tf.LayersModel> {
    const cached = this.cache.get(jobId);
    if (cached) {
      this.cache.delete(jobId);
      this.cache.set(jobId, cached);
      return cached;
    }
    const model = await loadModel(this.store, jobId);
    if (!model) throw new UnrecoverableError(`model_not_found: no trained model is stored for job ${jobId}`);
    this.cache.set(jobId, model);
    while (this.cache.size > this.cacheSize) {
      const [oldest, m] = this.cache.entries().next().value as [string, tf.LayersModel];
      this.cache.delete(oldest);
      m.dispose();
    }
    return model;
  }

  readonly process = async (job: Job<PredictJobData, PredictResult>): Promise<PredictResult> => {
    const model = await this.model(job.data.jobId);
    let output: tf.Tensor;
    try {
      output = tf.tidy(() => {
        const result = model.predict(modelInputs(model, inputTensor(model, job.data.inputs)));
        return Array.isArray(result) ? result[0]! : result;
      });
    } catch (err) {
      // The inputs have the right shape (the API checked) but the model cannot take their values,
      // e.g. embedding ids out of range: the caller's mistake, not worth a retry.
      throw new UnrecoverableError(`${INVALID_INPUTS}: ${(err as Error).message}`);
    }
    try {
      return { outputs: (await output.array()) as unknown[] };
    } finally {
      output.dispose();
    }
  };

  close(): void {
    for (const m of this.cache.values()) m.dispose();
    this.cache.clear();
  }
}

/** The inputs as a tensor, scaled as the model's training data was (the statistics travel in model.json). */
function inputTensor(model: tf.LayersModel, inputs: unknown[]): tf.Tensor {
  const scaling = fittedPreprocessing(model)?.inputs;
  const x = tf.tensor(inputs as number[][]);
  if (!scaling) return x;
  // Rows are shaped like the dataset's samples; scaling is per channel, their last axis.
  const scaled = tf.tensor(applyScaling(x.dataSync(), scaling), x.shape);
  x.dispose();
  return scaled;
}
