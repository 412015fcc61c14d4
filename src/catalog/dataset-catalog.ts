import { z } from 'zod';
import { type JsonProperty, type OptionInfo, intervalText, optionInfo, optionInfoSchema, optionRow } from './option-info.js';
import {
  BUILTIN_DATASETS,
  BUILTIN_DATASET_NAMES,
  datasetKindSchema,
  datasetSchema,
  datasetTaskSchema,
  describeDataset,
  labelKindSchema,
  shapeText,
} from '../spec/datasets.js';
import { defaultLoss, lossSchema } from '../spec/job-spec.js';

/** An entry of GET /v1/datasets/builtin and docs/datasets.md. */
export const builtinDatasetInfoSchema = z
  .object({
    name: z.enum(BUILTIN_DATASET_NAMES),
    description: z.string(),
    kind: datasetKindSchema,
    source: z.string().optional().describe('Where real data comes from.'),
    task: datasetTaskSchema,
    options: z.array(optionInfoSchema).describe('Options the dataset takes, with defaults and valid ranges.'),
    samples: z.number().int().describe('Samples with the default options.'),
    maxSamples: z.number().int().optional().describe('Real data: how many samples exist.'),
    inputShape: z.array(z.number().int()).describe('Shape of one input sample, with the default options (the model inputShape).'),
    targetShape: z.array(z.number().int()).describe('Shape of one target, with the default options.'),
    labels: labelKindSchema.describe('Kind of targets, with the default options.'),
    classes: z.number().int().optional(),
    defaultLoss: lossSchema.describe('The loss a job on this dataset gets when its spec names none.'),
  })
  .meta({ id: 'BuiltinDatasetInfo' });
export type BuiltinDatasetInfo = z.infer<typeof builtinDatasetInfoSchema>;
export const builtinDatasetCatalogSchema = z.object({ items: z.array(builtinDatasetInfoSchema) });

/** Every built-in dataset with its options (defaults and ranges read off the schema) and default shapes. */
export function builtinDatasetCatalog(): BuiltinDatasetInfo[] {
  const json = z.toJSONSchema(datasetSchema, { io: 'input' }) as unknown as { $defs: { Dataset: { properties: Record<string, JsonProperty> } } };
  const properties = json.$defs.Dataset.properties;
  return BUILTIN_DATASET_NAMES.map((name) => {
    const meta = BUILTIN_DATASETS[name];
    const shape = describeDataset({ builtin: name })!;
    const options = meta.options.map((key) => {
      // The schema's defaults are the job-level ones (none): each dataset states its own; seed has
      // none (it derives from the job seed, its description says so). Sample counts of real data
      // are bounded by the data.
      const real =
        key === 'samples' || key === 'offset' ? { maximum: meta.maxSamples !== undefined ? meta.maxSamples - (key === 'offset' ? 1 : 0) : undefined } : {};
      return optionInfo(key, properties[key] ?? {}, { default: key === 'labels' ? 'auto' : (meta.defaults as Record<string, unknown>)[key], ...real });
    });
    return {
      name,
      description: meta.description,
      kind: meta.kind,
      ...(meta.source ? { source: meta.source } : {}),
      task: meta.task,
      options,
      samples: shape.samples,
      ...(meta.maxSamples !== undefined ? { maxSamples: meta.maxSamples } : {}),
      inputShape: shape.inputShape,
      targetShape: shape.targetShape,
      labels: shape.labels,
      ...(shape.classes !== undefined ? { classes: shape.classes } : {}),
      defaultLoss: defaultLoss(shape),
    };
  });
}

function range(o: OptionInfo): string {
  if (o.enum) return o.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  return o.type === 'number' || o.type === 'integer' ? intervalText(o) : '';
}

/** docs/datasets.md, rendered from the catalogue (a test keeps the committed file equal). */
export function builtinDatasetMarkdown(): string {
  const out = [
    '# Built-in datasets',
    '',
    '<!-- Generated from src/spec/datasets.ts and src/catalog/dataset-catalog.ts by `npm run docs`; edit there. -->',
    '',
    'Use one as `"dataset": {"builtin": NAME, ...options}` (or as `training.validationData`). Shapes, labels and',
    'the default loss below are those of the default options; `GET /v1/datasets/builtin` serves the same as JSON.',
    'Synthetic and sequence datasets are generated from `seed` (default: derived from the job seed), so a seeded',
    'job sees the same data on every run. `MAX_BUILTIN_SAMPLES` caps `samples` of the generated ones.',
    '',
    '| name | kind | samples | input shape | targets | default loss |',
    '|---|---|---:|---|---|---|',
  ];
  const catalog = builtinDatasetCatalog();
  for (const d of catalog) {
    const targets = d.labels === 'regression' ? `${shapeText(d.targetShape)} value` : `${shapeText(d.targetShape)} ${d.labels}, ${d.classes} classes`;
    out.push(`| [\`${d.name}\`](#${d.name}) | ${d.kind} | ${d.samples} | ${shapeText(d.inputShape)} | ${targets} | \`${d.defaultLoss}\` |`);
  }
  out.push('');
  for (const d of catalog) {
    out.push(`## \`${d.name}\``, '', d.description, '');
    if (d.source) out.push(`Source: ${d.source}.`, '');
    out.push('| option | default | range | meaning |', '|---|---|---|---|');
    for (const o of d.options) {
      out.push(optionRow(o, range(o)));
    }
    out.push('');
  }
  return out.join('\n');
}
