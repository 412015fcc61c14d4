import * as tf from '@tensorflow/tfjs';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { modelKeys } from '../storage/artifact-keys.js';
// Registers Descent's own layer classes (ActivityRegularization), which saved models may name.
import './model.js';

/** The stored model.json names its weights file relative to itself. */
export const WEIGHTS_FILE = 'weights.bin';

/**
 * Saves a trained model as a tfjs layers model (model.json + one weights file). The training
 * config is left out on purpose: it names Descent's own optimizer class, which a plain
 * `tf.loadLayersModel` elsewhere could not deserialize.
 */
export async function saveModel(model: tf.LayersModel, store: ArtifactStore, jobId: string): Promise<void> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved?.weightData || !saved.weightSpecs) throw new Error('model produced no weights');
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(saved.weightData));
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: null,
    modelTopology: saved.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: saved.weightSpecs }],
    // Descent's preprocessing statistics, when the job had any (the model expects scaled inputs).
    ...(saved.userDefinedMetadata ? { userDefinedMetadata: saved.userDefinedMetadata } : {}),
  };
  const keys = modelKeys(jobId);
  await store.put(keys.weights, weights);
  await store.put(keys.topology, JSON.stringify(modelJson));
}

export async function loadModel(store: ArtifactStore, jobId: string): Promise<tf.LayersModel | undefined> {
  const keys = modelKeys(jobId);
  const [topology, weights] = await Promise.all([store.get(keys.topology), store.get(keys.weights)]);
  if (!topology || !weights) return undefined;
  const json = JSON.parse(topology.toString('utf8')) as {
    modelTopology: object;
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
    userDefinedMetadata?: Record<string, unknown>;
  };
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  const metadata = json.userDefinedMetadata ? { userDefinedMetadata: json.userDefinedMetadata } : {};
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData, ...metadata }));
}
