import { z } from 'zod';
import { type DatasetShape, type DatasetSpec, describeDataset, shapeText } from './datasets.js';

export const preprocessingSchema = z
  .strictObject({
    inputs: z
      .enum(['none', 'standardize', 'minmax'])
      .default('none')
      .describe(
        'Scale inputs per channel (the last axis of a sample: features of a row, channels of an image or a sequence): ' +
          '`standardize` to mean 0 and standard deviation 1, `minmax` to [0, 1]. The statistics come from the training ' +
          'samples only (never the validation split or holdout) and apply to validation data and to predictions too.',
      ),
    labels: z
      .enum(['keep', 'onehot', 'index'])
      .default('keep')
      .describe(
        '`onehot`: class indices (one integer column) become one-hot rows; `index`: one-hot rows become class indices; `keep`: as the dataset has them.',
      ),
    classes: z
      .number()
      .int()
      .min(2)
      .max(1000)
      .optional()
      .describe("labels `onehot`: the number of classes (default: the dataset's, or the largest class index + 1)."),
  })
  .superRefine((p, ctx) => {
    if (p.classes !== undefined && p.labels !== 'onehot') {
      ctx.addIssue({ code: 'custom', message: '`classes` applies to labels `onehot` only', path: ['classes'] });
    }
  })
  .describe('Preprocessing of the training data, its validation data and (inputs) of predictions.')
  .meta({ id: 'Preprocessing' });

export type Preprocessing = z.output<typeof preprocessingSchema>;

/** Classes in one-column integer targets (largest index + 1), when every target is a non-negative integer. */
export function inlineClasses(y: unknown[]): number | undefined {
  let max = -1;
  for (const v of y) {
    const n = Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) return undefined;
    max = Math.max(max, n);
  }
  return max + 1;
}

/**
 * The shape of a dataset as the model sees it, once `preprocessing.labels` has converted its
 * targets; a string says why the conversion does not apply.
 */
export function preparedShape(dataset: DatasetSpec, p: Preprocessing | undefined, known?: DatasetShape): DatasetShape | string | undefined {
  const shape = known ?? describeDataset(dataset);
  if (!shape || !p || p.labels === 'keep') return shape;
  const width = shape.targetShape.length === 1 ? shape.targetShape[0]! : undefined;
  if (p.labels === 'onehot') {
    if (width !== 1) return `labels \`onehot\` needs one class index per sample; the targets have shape ${shapeText(shape.targetShape)}`;
    if (shape.labels === 'regression' && dataset.builtin) return `labels \`onehot\` needs class labels; \`${dataset.builtin}\` is a regression dataset`;
    if (shape.labels === 'regression' && dataset.inline && inlineClasses(dataset.inline.y) === undefined) {
      return 'labels `onehot` needs non-negative integer class indices as targets';
    }
    const known = shape.classes ?? (dataset.inline ? inlineClasses(dataset.inline.y) : undefined);
    if (p.classes !== undefined && known !== undefined && p.classes < known) return `classes is ${p.classes} but the labels go up to ${known - 1}`;
    const classes = p.classes ?? known;
    if (classes === undefined) {
      return 'labels `onehot` needs `preprocessing.classes` here: the labels are numbers with no known number of classes';
    }
    return { ...shape, targetShape: [classes], labels: 'onehot', classes };
  }
  if (width === undefined || width < 2) {
    return `labels \`index\` needs one-hot rows; the targets have shape ${shapeText(shape.targetShape)}`;
  }
  return { ...shape, targetShape: [1], labels: 'index', classes: width };
}

/** The scaling and label conversion fitted on a job's training data, as predictions apply them. */
export const fittedPreprocessingSchema = z
  .object({
    inputs: z
      .discriminatedUnion('method', [
        z.object({ method: z.literal('standardize'), mean: z.array(z.number()), std: z.array(z.number()) }),
        z.object({ method: z.literal('minmax'), min: z.array(z.number()), max: z.array(z.number()) }),
      ])
      .optional()
      .describe("Per channel: x' = (x - mean) / std, or (x - min) / (max - min); a constant channel is divided by 1."),
    labels: z.object({ to: z.enum(['onehot', 'index']), classes: z.number().int() }).optional(),
  })
  .describe('Fitted on the training samples only; predict applies it, and a downloaded model expects inputs scaled by it.')
  .meta({ id: 'FittedPreprocessing' });
export type PreprocessingState = z.infer<typeof fittedPreprocessingSchema>;
export type InputScaling = NonNullable<PreprocessingState['inputs']>;
