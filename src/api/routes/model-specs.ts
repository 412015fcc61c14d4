import type { FastifyInstance } from 'fastify';
import { visibleTenant } from '../../shared/access.js';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InvalidSpecError, NotFoundError } from '../../shared/errors.js';
import { PRESETS, PRESET_NAMES, activationSchema, datasetSchema, expandModel, expandedModelSchema, jobSpecSchema, shapeSchema } from '../../spec/index.js';
import { type SummaryReport, summarizeModel, summaryReportSchema } from '../../planning/index.js';
import { errorResponses } from '../schemas.js';

const summaryBodySchema = jobSpecSchema
  .extend({ dataset: datasetSchema.optional() })
  .describe('A job spec (the dataset may be left out); only `model` is required.');

const presetSchema = z.object({ name: z.enum(PRESET_NAMES), description: z.string() }).meta({ id: 'Preset' });
const expandedPresetSchema = presetSchema.extend({ model: expandedModelSchema }).meta({ id: 'ExpandedPreset' });

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
        response: { 200: summaryReportSchema, ...errorResponses(400, 503) },
      },
    },
    async (request): Promise<SummaryReport> => {
      const spec = request.body;
      const { prepared, summary, samples, memory, cost, exceeds } = await app.jobs.preflight(spec, visibleTenant(request.principal));
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
      config: { access: { shared: true } },
      schema: {
        tags: ['models'],
        summary: 'A preset expanded to the layers it stands for, for an input shape and output size',
        params: z.object({ name: z.string() }),
        querystring: presetQuerySchema,
        response: { 200: expandedPresetSchema, ...errorResponses(400, 404) },
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
