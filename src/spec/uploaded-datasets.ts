import { z } from 'zod';
import { type DatasetShape, labelKindSchema } from './datasets.js';

/**
 * Uploaded datasets: the options of `POST /v1/datasets` (query string) and the record the API
 * returns and stores. Pure description, shared by the API (which parses uploads), Redis (which
 * keeps the records) and the engine (which loads the stored arrays).
 */
export const UPLOAD_FORMATS = ['csv', 'json', 'ndjson'] as const;
export type UploadFormat = (typeof UPLOAD_FORMATS)[number];

const list = (what: string) =>
  z
    .string()
    .max(100_000)
    .transform((s) =>
      s
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v.length > 0),
    )
    .describe(what);

export const uploadOptionsSchema = z.object({
  name: z.string().min(1).max(200).optional().describe('A label for people; need not be unique.'),
  format: z.enum(UPLOAD_FORMATS).optional().describe('csv, json (an array of rows) or ndjson (one row per line); default: from the content type.'),
  header: z
    .enum(['auto', 'true', 'false'])
    .default('auto')
    .describe('CSV: is the first line a header? `auto`: yes when none of its cells is a number. Without one, columns are named 0, 1, ...'),
  delimiter: z.enum([',', ';', '\t', '|']).default(',').describe('CSV field separator.'),
  label: z.string().min(1).max(200).optional().describe('The label column, by name (or 0-based index); default: the last column.'),
  features: list('Comma-separated feature columns, in this order; default: every column but the label.').optional(),
  labels: z
    .enum(['auto', 'onehot', 'index', 'binary', 'raw'])
    .default('auto')
    .describe(
      'Label encoding. `raw`: numbers as they are (regression). `index`: class index. `onehot`: one column per class. ' +
        '`binary`: 0/1 for two classes. `auto`: `raw` for a numeric column, else `binary` for 2 classes and `onehot` for more.',
    ),
  inputShape: z
    .string()
    .regex(/^\s*[1-9]\d{0,5}\s*(,\s*[1-9]\d{0,5}\s*){0,3}$/, 'one to four positive integers, comma-separated')
    .transform((s) => s.split(',').map(Number))
    .optional()
    .describe('Comma-separated shape of one sample, e.g. `28,28,1`; default: [number of features].'),
});
export type UploadOptionsInput = z.input<typeof uploadOptionsSchema>;
export type UploadOptions = z.output<typeof uploadOptionsSchema>;

export const datasetRecordSchema = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    format: z.enum(UPLOAD_FORMATS),
    rows: z.number().int().describe('Samples stored.'),
    columns: z.array(z.string()).describe('Every column of the upload, in order.'),
    features: z.array(z.string()).describe('The columns that became the inputs, in order.'),
    label: z.string().describe('The column that became the targets.'),
    inputShape: z.array(z.number().int()).describe('Shape of one sample (a job model.inputShape must equal it).'),
    targetShape: z.array(z.number().int()).describe('Shape of one target.'),
    labels: labelKindSchema.describe('How the targets are encoded; picks the default loss.'),
    classes: z.number().int().optional().describe('Number of classes (classification).'),
    classNames: z.array(z.string()).optional().describe('Class i is classNames[i] (sorted distinct label values).'),
    bytes: z.object({
      received: z.number().int().describe('Request body bytes (compressed, when gzip).'),
      decompressed: z.number().int().describe('Bytes of CSV/JSON text parsed.'),
      stored: z.number().int().describe('Bytes of the stored float32 arrays.'),
    }),
    createdAt: z.string(),
  })
  .describe('An uploaded dataset.')
  .meta({ id: 'DatasetRecord' });
export type DatasetRecord = z.infer<typeof datasetRecordSchema>;

/** A page of GET /v1/datasets. */
export const datasetPageSchema = z.object({
  items: z.array(datasetRecordSchema),
  next: z.string().nullable().describe('Cursor of the next page; null on the last one.'),
});
export type DatasetPage = z.infer<typeof datasetPageSchema>;

/** The shapes a job spec is checked against, from an uploaded dataset's record. */
export function uploadedDatasetShape(record: DatasetRecord): DatasetShape {
  return {
    samples: record.rows,
    inputShape: record.inputShape,
    targetShape: record.targetShape,
    labels: record.labels,
    ...(record.classes !== undefined ? { classes: record.classes } : {}),
  };
}
