import { z } from 'zod';

/**
 * Built-in datasets: the catalogue (shapes, options, default loss) is pure description, shared
 * by the API (to check a spec before queueing it) and the engine (which generates the data).
 */
export const BUILTIN_DATASETS = {
  xor: {
    description: 'The XOR truth table; with samples > 4, noisy copies of its four corners.',
    options: ['samples', 'noise', 'seed'],
    defaults: { samples: 4, noise: 0 },
    task: 'binary',
  },
  spirals: {
    description: 'Interleaved spiral arms, one per class.',
    options: ['samples', 'noise', 'seed', 'classes', 'labels'],
    defaults: { samples: 300, noise: 0.1, classes: 2 },
    task: 'classification',
  },
  circles: {
    description: 'A circle inside a larger circle (factor = inner/outer radius).',
    options: ['samples', 'noise', 'seed', 'factor'],
    defaults: { samples: 200, noise: 0.05, factor: 0.5 },
    task: 'binary',
  },
  moons: {
    description: 'Two interleaving half circles.',
    options: ['samples', 'noise', 'seed'],
    defaults: { samples: 200, noise: 0.1 },
    task: 'binary',
  },
  blobs: {
    description: 'Isotropic Gaussian clusters, one per class (noise = cluster standard deviation).',
    options: ['samples', 'noise', 'seed', 'classes', 'features', 'labels'],
    defaults: { samples: 300, noise: 1.0, classes: 3, features: 2 },
    task: 'classification',
  },
  linear: {
    description: 'y = sum_i (i+1)*x_i + 0.5 + noise, x uniform in [-1, 1].',
    options: ['samples', 'noise', 'seed', 'features'],
    defaults: { samples: 100, noise: 0.1, features: 1 },
    task: 'regression',
  },
  sine: {
    description: 'y = sin(x) + noise, x uniform in [-pi, pi].',
    options: ['samples', 'noise', 'seed'],
    defaults: { samples: 200, noise: 0.05 },
    task: 'regression',
  },
} as const;

export type BuiltinDatasetName = keyof typeof BUILTIN_DATASETS;
export const BUILTIN_DATASET_NAMES = Object.keys(BUILTIN_DATASETS) as [BuiltinDatasetName, ...BuiltinDatasetName[]];

type Nested = number | Nested[];
const nestedNumbers: z.ZodType<Nested> = z.lazy(() => z.union([z.number(), z.array(nestedNumbers)]));

export const datasetSchema = z
  .strictObject({
    builtin: z.enum(BUILTIN_DATASET_NAMES).optional().describe('Name of a built-in dataset.'),
    samples: z.number().int().min(1).optional().describe('Built-in: how many samples to generate.'),
    noise: z.number().min(0).optional().describe('Built-in: noise level (see each dataset).'),
    seed: z.number().int().optional().describe('Built-in: generator seed (default: the job seed).'),
    classes: z.number().int().min(2).max(100).optional().describe('spirals, blobs: number of classes.'),
    features: z.number().int().min(1).max(1000).optional().describe('blobs, linear: number of input features.'),
    factor: z.number().gt(0).lt(1).optional().describe('circles: inner radius / outer radius.'),
    labels: z
      .enum(['auto', 'onehot', 'index'])
      .optional()
      .describe('spirals, blobs: `onehot` rows, `index` (one integer column), or `auto` (onehot for 3+ classes).'),
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
    const optionKeys = ['samples', 'noise', 'seed', 'classes', 'features', 'factor', 'labels'] as const;
    const allowed: readonly string[] = d.builtin ? BUILTIN_DATASETS[d.builtin].options : [];
    for (const key of optionKeys) {
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
    if (d.inline) checkInline(d.inline, ctx);
  })
  .describe('Training data: `{"builtin": NAME, ...options}`, `{"inline": {"x", "y"}}` or `{"id": DATASET_ID}`.')
  .meta({ id: 'Dataset' });

export type DatasetSpec = z.infer<typeof datasetSchema>;

/** The shape of one sample, or an error message when the samples are ragged. */
export function sampleShape(value: unknown): number[] | string {
  if (typeof value === 'number') return Number.isFinite(value) ? [] : 'not a finite number';
  if (!Array.isArray(value)) return `${JSON.stringify(value)} is not a number`;
  if (value.length === 0) return 'empty array';
  const inner = sampleShape(value[0]!);
  if (typeof inner === 'string') return inner;
  for (let i = 1; i < value.length; i++) {
    const s = sampleShape(value[i]!);
    if (typeof s === 'string' || s.join(',') !== inner.join(',')) return `ragged at index ${i}`;
  }
  return [value.length, ...inner];
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
          message: `sample ${i} has shape [${typeof s === 'string' ? s : s.join(', ')}], sample 0 has [${first.join(', ')}]`,
          path: ['inline', key, i],
        });
        break;
      }
    }
  }
}

export type LabelKind = 'binary' | 'onehot' | 'index' | 'regression';

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
  if (meta.task === 'regression') {
    return { samples: o.samples, inputShape: [o.features], targetShape: [1], labels: 'regression' };
  }
  const labels = labelKind(o.classes, o.labels);
  return {
    samples: o.samples,
    inputShape: [o.features],
    targetShape: [labels === 'onehot' ? o.classes : 1],
    labels,
    classes: o.classes,
  };
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
  };
}
