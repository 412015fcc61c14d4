/**
 * The checks a job spec passes before it is queued (and POST /v1/models/summary reports): the
 * model expanded and worked out layer by layer, checked against its data, and measured against
 * the configured limits.
 */
import { z } from 'zod';
import { BUILTIN_DATASETS, describeDataset, resolveBuiltinOptions, type DatasetShape, elementCount, shapeText } from '../spec/datasets.js';
import { type JobSpec, type Loss, type SpecIssue, defaultLoss } from '../spec/job-spec.js';
import { type Activation, layerWidth } from '../spec/layers.js';
import { type ModelSpec, expandModel, expandedModelSchema, resolveGraph, valuesPerSample } from '../spec/model.js';
import { graphSupport } from './graph-support.js';
import { type MemoryEstimate, type ModelSummary, estimateTrainingMemory, memoryEstimateSchema, modelSummarySchema, summarizeModel } from './model-summary.js';
import { inlineClasses, preparedShape } from '../spec/preprocessing.js';

/** Units the output layer needs for these targets and this loss (undefined when unknown). */
export function outputWidth(shape: DatasetShape, loss: Loss): number | undefined {
  if (loss === 'sparseCategoricalCrossentropy') return shape.classes;
  return shape.targetShape.length === 1 ? shape.targetShape[0] : undefined;
}

/** The output activation that goes with a loss, for presets. */
export function outputActivation(loss: Loss): Activation {
  if (loss === 'binaryCrossentropy') return 'sigmoid';
  if (loss === 'categoricalCrossentropy' || loss === 'sparseCategoricalCrossentropy') return 'softmax';
  return 'linear';
}

/** A job spec whose dataset may be left out: what POST /v1/models/summary takes. */
export type DraftJobSpec = Omit<JobSpec, 'dataset'> & { dataset?: JobSpec['dataset'] };

/** Shapes of datasets the spec alone does not describe (uploads), as the caller looked them up. */
export interface KnownShapes {
  dataset?: DatasetShape;
  validationData?: DatasetShape;
}

/**
 * Everything checked before a job is queued except the limits: presets expanded, loss decided,
 * the model's graph and shapes worked out, and the model checked against the data (its targets
 * as preprocessing converts them).
 */
export function prepareSpec<S extends DraftJobSpec>(
  spec: S,
  known: KnownShapes = {},
): { prepared?: Omit<S, 'model' | 'loss'> & { model: ModelSpec; loss: Loss }; summary?: ModelSummary; issues: SpecIssue[] } {
  const issues = monitorIssues(spec);
  const raw = known.dataset ?? (spec.dataset ? describeDataset(spec.dataset) : undefined);
  const converted = spec.dataset ? preparedShape(spec.dataset, spec.preprocessing, raw) : undefined;
  if (typeof converted === 'string') issues.push({ path: ['preprocessing', 'labels'], message: converted });
  let shape = typeof converted === 'string' ? undefined : converted;
  const holdout = known.validationData ?? (spec.training.validationData ? describeDataset(spec.training.validationData) : undefined);
  if (holdout && raw && (holdout.inputShape.join(',') !== raw.inputShape.join(',') || holdout.targetShape.join(',') !== raw.targetShape.join(','))) {
    issues.push({
      path: ['training', 'validationData'],
      message:
        `the holdout's samples have shape ${shapeText(holdout.inputShape)} -> ${shapeText(holdout.targetShape)}, ` +
        `the training data's ${shapeText(raw.inputShape)} -> ${shapeText(raw.targetShape)}`,
    });
  }
  issues.push(...holdoutOverlap(spec));
  const held = spec.training.validationData?.inline;
  if (shape?.classes !== undefined && spec.preprocessing?.labels === 'onehot' && held) {
    const heldClasses = inlineClasses(held.y);
    if (heldClasses === undefined || heldClasses > shape.classes) {
      issues.push({
        path: ['training', 'validationData', 'inline', 'y'],
        message: `labels \`onehot\` needs the holdout's targets to be class indices below ${shape.classes}, as the training data's are`,
      });
    }
  }
  const loss = spec.loss ?? (shape ? defaultLoss(shape) : 'meanSquaredError');
  const inline = spec.dataset?.inline;
  if (loss === 'sparseCategoricalCrossentropy' && shape?.classes === undefined && inline) {
    // Inline targets carry no class count: the largest index says how wide the output must be.
    const classes = inlineClasses(inline.y);
    if (classes === undefined) {
      issues.push({ path: ['dataset', 'inline', 'y'], message: 'sparseCategoricalCrossentropy needs non-negative integer class indices as targets' });
    } else if (shape) shape = { ...shape, classes };
  }
  const expanded = expandModel(spec.model, {
    inputShape: shape?.inputShape,
    outputUnits: shape ? outputWidth(shape, loss) : undefined,
    outputActivation: outputActivation(loss),
  });
  issues.push(...expanded.issues);
  if (!expanded.model) return { issues };
  const prepared = { ...spec, model: expanded.model, loss };
  if (spec.preprocessing && spec.preprocessing.inputs !== 'none') issues.push(...embeddingScaling(expanded.model));
  if (spec.training.engine === 'graph') {
    const support = graphSupport(prepared);
    if (!support.supported)
      issues.push({ path: ['training', 'engine'], message: `engine \`graph\` cannot train this job: ${support.reason} (use \`auto\` or \`eager\`)` });
  }
  const { summary, issues: modelIssues } = summarizeModel(expanded.model);
  issues.push(...modelIssues);
  if (shape) issues.push(...dataIssues(prepared, shape, summary));
  return issues.length > 0 ? { issues } : { prepared, summary, issues };
}

/** An embedding reads its input as integer ids: scaling the inputs it reads would scramble them. */
function embeddingScaling(model: ModelSpec): SpecIssue[] {
  const { graph } = resolveGraph(model);
  const inputs = new Set(graph?.inputs.map((i) => i.name));
  return (graph?.nodes ?? [])
    .filter((n) => n.spec.type === 'embedding' && n.inputs.some((name) => inputs.has(name)))
    .map((n) => ({
      path: ['preprocessing', 'inputs'],
      message: `layer \`${n.name}\` embeds the model input as integer ids; scaling that input would scramble them (use inputs \`none\`)`,
    }));
}

/** A holdout from the same real dataset must not share samples with the training part. */
function holdoutOverlap(spec: DraftJobSpec): SpecIssue[] {
  const [train, held] = [spec.dataset, spec.training.validationData];
  if (!train?.builtin || held?.builtin !== train.builtin || BUILTIN_DATASETS[train.builtin].kind !== 'real') return [];
  const [a, b] = [resolveBuiltinOptions(train), resolveBuiltinOptions(held)];
  if (a.offset + a.samples <= b.offset || b.offset + b.samples <= a.offset) return [];
  return [
    {
      path: ['training', 'validationData', 'offset'],
      message: `the holdout (samples ${b.offset}..${b.offset + b.samples - 1}) overlaps the training samples (${a.offset}..${a.offset + a.samples - 1}); give an offset of at least ${a.offset + a.samples}`,
    },
  ];
}

/** The metrics a job's epochs report: loss and its metrics, and their val_* twins when it validates. */
export function reportedMetrics(spec: Pick<DraftJobSpec, 'metrics' | 'training'>): string[] {
  const t = spec.training;
  const reported = ['loss', ...spec.metrics];
  const validated = t.validationSplit > 0 || t.validationData !== undefined;
  return validated ? [...reported, ...reported.map((m) => `val_${m}`)] : reported;
}

function monitorIssues(spec: DraftJobSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const t = spec.training;
  const monitorable = reportedMetrics(spec);
  const monitors: [string | undefined, (string | number)[]][] = [
    [t.earlyStopping?.monitor, ['training', 'earlyStopping', 'monitor']],
    [t.lrSchedule.type === 'reduceOnPlateau' ? t.lrSchedule.monitor : undefined, ['training', 'lrSchedule', 'monitor']],
  ];
  for (const [monitor, path] of monitors) {
    if (monitor !== undefined && !monitorable.includes(monitor)) {
      issues.push({ path, message: `\`${monitor}\` is not reported by this job; it reports ${monitorable.join(', ')}` });
    }
  }
  if (t.validationData && t.validationSplit > 0) {
    issues.push({ path: ['training', 'validationData'], message: 'give either validationSplit or validationData, not both' });
  }
  return issues;
}

/** The model's input and output against the dataset's shapes, the loss against the labels. */
function dataIssues(spec: Omit<DraftJobSpec, 'model'> & { model: ModelSpec; loss: Loss }, shape: DatasetShape, summary: ModelSummary | undefined): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const model = spec.model;
  if (model.inputShape && shape.inputShape.join(',') !== model.inputShape.join(',')) {
    issues.push({
      path: ['model', 'inputShape'],
      message: `the dataset's samples have shape ${shapeText(shape.inputShape)}, the model expects ${shapeText(model.inputShape)}`,
    });
  }
  if (model.inputs) {
    const total = valuesPerSample(model);
    if (total !== elementCount(shape.inputShape)) {
      issues.push({
        path: ['model', 'inputs'],
        message: `the inputs take ${total} values per sample, the dataset's samples have ${elementCount(shape.inputShape)} (${shapeText(shape.inputShape)})`,
      });
    }
  }
  const layers = model.layers;
  const lastIndex = layers.length - 1;
  const last = layers[lastIndex]!;
  const width = outputWidth(shape, spec.loss);
  if (last.type === 'dense' && shape.targetShape.length === 1 && width !== undefined && last.units !== width) {
    issues.push({ path: ['model', 'layers', lastIndex, 'units'], message: `the output layer has ${last.units} units but the targets need ${width}` });
  } else if (summary) {
    const expected = spec.loss === 'sparseCategoricalCrossentropy' && width !== undefined ? [width] : shape.targetShape;
    if (summary.outputShape.join(',') !== expected.join(',')) {
      issues.push({
        path: ['model', 'layers', lastIndex],
        message: `the model's output has shape ${shapeText(summary.outputShape)} but the targets need ${shapeText(expected)}`,
      });
    }
  }
  if (spec.loss === 'sparseCategoricalCrossentropy' && shape.targetShape.join(',') !== '1') {
    issues.push({ path: ['loss'], message: 'sparseCategoricalCrossentropy needs one integer class index per sample' });
  }
  const split = spec.training.validationSplit;
  if (split > 0) {
    const held = Math.floor(shape.samples * split);
    if (held < 1 || shape.samples - held < 1) {
      issues.push({
        path: ['training', 'validationSplit'],
        message: `a split of ${split} of ${shape.samples} samples leaves an empty training or validation set`,
      });
    }
  }
  return issues;
}

export interface Limits {
  maxEpochs: number;
  maxLayers: number;
  maxUnits: number;
  maxInlineSamples: number;
  maxBuiltinSamples: number;
  maxRuntimeSeconds: number;
  maxParams: number;
  maxFlopsPerSample: number;
  maxTrainingMemoryMb: number;
  maxSampleEpochs: number;
}

export const limitViolationSchema = z.object({
  limit: z.string().describe('The configuration variable that sets the limit.'),
  path: z.array(z.union([z.string(), z.number()])),
  value: z.number(),
  max: z.number(),
  measure: z.string().optional().describe('What `value` counts, when the path alone does not say (e.g. `parameters` for the model).'),
});
export type LimitViolation = z.infer<typeof limitViolationSchema>;

/** POST /v1/models/summary: the expanded model, its summary, cost and the limits it would exceed. */
export const summaryReportSchema = modelSummarySchema
  .extend({
    model: expandedModelSchema,
    samples: z.number().int().nullable().describe("The dataset's size, when the spec names one whose size is known."),
    trainingFlops: z
      .number()
      .nullable()
      .describe('Whole job, forward and backward (about 3x the forward FLOPs per sample x samples x epochs), when samples are known.'),
    memory: memoryEstimateSchema.nullable().describe('Training memory at the batch size (null: batch size `full` of a dataset whose size is not known).'),
    exceeds: z.array(limitViolationSchema).describe('Server limits this job would exceed (POST /v1/jobs refuses it with 422); empty when it fits.'),
  })
  .meta({ id: 'ModelSummary' });
export type SummaryReport = z.infer<typeof summaryReportSchema>;

/**
 * The memory one training step of the spec needs, when its batch size is known: a number, or
 * `full` of a dataset whose size is known.
 */
export function trainingMemory(spec: Pick<DraftJobSpec, 'training' | 'optimizer'>, summary: ModelSummary, samples: number | undefined): MemoryEstimate | null {
  const t = spec.training;
  const batchSize = samples !== undefined ? effectiveBatchSize(t.batchSize, samples) : t.batchSize === 'full' ? undefined : t.batchSize;
  return batchSize !== undefined ? estimateTrainingMemory(summary, batchSize, spec.optimizer) : null;
}

/** The batch size a spec trains with, given how many samples it trains on. */
export function effectiveBatchSize(batchSize: number | 'full', samples: number): number {
  return batchSize === 'full' ? samples : Math.min(batchSize, samples);
}

/**
 * Configured limits a prepared spec exceeds; the API refuses such a spec before it is queued.
 * `samples` is the dataset's size when known.
 */
export function checkLimits(
  spec: Omit<DraftJobSpec, 'model'> & { model: ModelSpec },
  summary: ModelSummary,
  samples: number | undefined,
  memory: MemoryEstimate | null,
  limits: Limits,
): LimitViolation[] {
  const out: LimitViolation[] = [];
  const check = (limit: string, path: (string | number)[], value: number, max: number, measure?: string) => {
    if (value > max) out.push({ limit, path, value, max, ...(measure ? { measure } : {}) });
  };
  const t = spec.training;
  check('MAX_EPOCHS', ['training', 'epochs'], t.epochs, limits.maxEpochs);
  check('MAX_RUNTIME_SECONDS', ['training', 'maxRuntimeSeconds'], t.maxRuntimeSeconds ?? 0, limits.maxRuntimeSeconds);
  check('MAX_LAYERS', ['model', 'layers'], spec.model.layers.length, limits.maxLayers);
  spec.model.layers.forEach((layer, i) => {
    const field = 'layer' in layer ? 'layer' : 'filters' in layer ? 'filters' : 'outputDim' in layer ? 'outputDim' : 'units';
    check('MAX_UNITS', ['model', 'layers', i, field], layerWidth(layer), limits.maxUnits);
  });
  if (spec.dataset?.inline) {
    check('MAX_INLINE_SAMPLES', ['dataset', 'inline', 'x'], spec.dataset.inline.x.length, limits.maxInlineSamples);
  }
  if (spec.dataset?.samples !== undefined) {
    check('MAX_BUILTIN_SAMPLES', ['dataset', 'samples'], spec.dataset.samples, limits.maxBuiltinSamples);
  }
  const holdout = spec.training.validationData;
  if (holdout?.inline) {
    check('MAX_INLINE_SAMPLES', ['training', 'validationData', 'inline', 'x'], holdout.inline.x.length, limits.maxInlineSamples);
  }
  if (holdout?.samples !== undefined) {
    check('MAX_BUILTIN_SAMPLES', ['training', 'validationData', 'samples'], holdout.samples, limits.maxBuiltinSamples);
  }
  check('MAX_PARAMS', ['model'], summary.totalParams, limits.maxParams, 'parameters');
  check('MAX_FLOPS_PER_SAMPLE', ['model'], summary.flopsPerSample, limits.maxFlopsPerSample, 'FLOPs per sample');
  if (samples !== undefined) {
    check('MAX_SAMPLE_EPOCHS', ['training', 'epochs'], samples * t.epochs, limits.maxSampleEpochs, `sample-epochs (${samples} samples)`);
  }
  if (memory && samples !== undefined) {
    check(
      'MAX_TRAINING_MEMORY_MB',
      ['training', 'batchSize'],
      Math.ceil(memory.totalBytes / 2 ** 20),
      limits.maxTrainingMemoryMb,
      'MB of training memory (estimated)',
    );
  }
  return out;
}
