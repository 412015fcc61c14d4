import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InvalidSpecError, NotFoundError } from '../../shared/errors.js';
import { PRESETS, PRESET_NAMES, activationSchema, datasetSchema, expandModel, jobSpecSchema, layerSchema, shapeSchema } from '../../spec/index.js';
import { summarizeModel } from '../../planning/index.js';
import { errorResponseSchema } from '../schemas.js';

const summaryBodySchema = jobSpecSchema
  .extend({ dataset: datasetSchema.optional() })
  .describe('A job spec (the dataset may be left out); only `model` is required.');

const shapeOut = z.array(z.number().int());
const layerSummarySchema = z.object({
  name: z.string(),
  type: z.string(),
  inputs: z.array(z.string()),
  outputShape: shapeOut.describe('Without the batch axis.'),
  params: z.number(),
  trainableParams: z.number(),
  flops: z.number().describe('Forward pass, per sample (a multiply-add counts 2).'),
});

const modelOut = z
  .object({ inputShape: shapeOut.optional(), inputs: z.array(z.object({ name: z.string(), shape: shapeOut })).optional(), layers: z.array(layerSchema) })
  .describe('The model with its layers spelled out (presets expanded, defaults filled in).');

const summarySchema = z
  .object({
    model: modelOut,
    inputs: z.array(z.object({ name: z.string(), shape: shapeOut })),
    layers: z.array(layerSummarySchema),
    outputShape: shapeOut,
    totalParams: z.number(),
    trainableParams: z.number(),
    nonTrainableParams: z.number().describe('e.g. batch normalization moving statistics.'),
    flopsPerSample: z.number().describe('Forward pass; a training step costs about 3x this per sample.'),
    samples: z.number().int().nullable().describe("The dataset's size, when the spec names one whose size is known."),
    trainingFlops: z.number().nullable().describe('Whole job, forward and backward (about 3x the forward FLOPs per sample x samples x epochs), when samples are known.'),
    memory: z
      .object({
        batchSize: z.number().int(),
        parametersBytes: z.number(),
        gradientsBytes: z.number(),
        optimizerStateBytes: z.number(),
        activationsBytes: z.number().describe('Layer outputs of one batch, kept for the backward pass, and their gradients.'),
        totalBytes: z.number(),
      })
      .nullable()
      .describe('Training memory at the batch size (null: batch size `full` of a dataset whose size is not known).'),
    exceeds: z
      .array(z.object({ limit: z.string(), path: z.array(z.union([z.string(), z.number()])), value: z.number(), max: z.number(), measure: z.string().optional() }))
      .describe('Server limits this job would exceed (POST /v1/jobs refuses it with 422); empty when it fits.'),
  })
  .meta({ id: 'ModelSummary' });

const presetSchema = z.object({ name: z.enum(PRESET_NAMES), description: z.string() }).meta({ id: 'Preset' });

const presetQuerySchema = z.object({
  inputShape: z
    .string()
    .regex(/^[1-9]\d{0,5}(,[1-9]\d{0,5}){0,3}$/, 'comma-separated positive integers, e.g. 28,28,1')
    .describe('Input shape, comma-separated (e.g. 28,28,1).'),
  outputUnits: z.coerce.number().int().min(1).describe('Units of the output layer.'),
  outputActivation: activationSchema.default('linear'),
});

/** Model specs without training: summaries (shapes, parameters, FLOPs, memory) and presets. */
export async function modelSpecRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    '/v1/models/summary',
    {
      schema: {
        tags: ['models'],
        summary: "A model's layers with output shapes and parameters, its FLOPs, and the memory training it needs; nothing is trained",
        description:
          'Takes the body POST /v1/jobs takes (dataset optional). The same checks run before a job is queued: a job whose ' +
          '`exceeds` is not empty is refused with 422.',
        body: summaryBodySchema,
        response: { 200: summarySchema, 400: errorResponseSchema },
      },
    },
    async (request) => {
      const spec = request.body;
      const { prepared, summary, samples, memory, cost, exceeds } = await app.jobs.preflight(spec);
      return {
        model: prepared.model,
        ...summary,
        samples: samples ?? null,
        trainingFlops: cost.trainingFlops,
        memory,
        exceeds,
      };
    },
  );

  r.get(
    '/v1/models/presets',
    {
      schema: {
        tags: ['models'],
        summary: 'Model presets; use one as `model: {"preset": NAME}` in a job, or expand it to edit',
        response: { 200: z.object({ items: z.array(presetSchema) }) },
      },
    },
    async () => ({ items: PRESET_NAMES.map((name) => ({ name, description: PRESETS[name].description })) }),
  );

  r.get(
    '/v1/models/presets/:name',
    {
      schema: {
        tags: ['models'],
        summary: 'A preset expanded to the layers it stands for, for an input shape and output size',
        params: z.object({ name: z.string() }),
        querystring: presetQuerySchema,
        response: { 200: z.object({ name: z.enum(PRESET_NAMES), description: z.string(), model: modelOut }), 400: errorResponseSchema, 404: errorResponseSchema },
      },
    },
    async (request) => {
      const name = request.params.name;
      if (!(PRESET_NAMES as string[]).includes(name)) throw new NotFoundError('preset', name);
      const preset = name as (typeof PRESET_NAMES)[number];
      const q = request.query;
      const inputShape = shapeSchema.parse(q.inputShape.split(',').map(Number));
      const { model, issues } = expandModel({ preset, inputShape }, { outputUnits: q.outputUnits, outputActivation: q.outputActivation });
      if (!model) throw new InvalidSpecError(issues);
      // A preset that expands but cannot take this shape (e.g. pooling a 2x2 image) is refused here, not at submit.
      const shapes = summarizeModel(model);
      if (shapes.issues.length > 0) throw new InvalidSpecError(shapes.issues);
      return { name: preset, description: PRESETS[preset].description, model };
    },
  );
}
