import { z } from 'zod';
import { LAYER_NAME, type LayerSpec, activationSchema, layerSchema } from './layers.js';
import { PRESETS, PRESET_NAMES, type PresetContext } from './presets.js';
import { elementCount, shapeText } from './datasets.js';

export const shapeSchema = z.array(z.number().int().min(1)).min(1).max(4);
const positiveInt = z.number().int().min(1);

export const modelInputSchema = z.strictObject({
  name: z.string().regex(LAYER_NAME, 'a letter, then letters, digits, _ or - (at most 64)').describe('Name layers use in `inputs`.'),
  shape: shapeSchema.describe('Shape of this input for one sample.'),
});

export const modelSchema = z
  .strictObject({
    preset: z.enum(PRESET_NAMES).optional().describe('Build the model from a preset (GET /v1/models/presets); the job record shows the layers it expands to.'),
    inputShape: shapeSchema.optional().describe('Shape of one input sample, without the batch axis (with a preset: default from the dataset).'),
    inputs: z
      .array(modelInputSchema)
      .min(2)
      .max(8)
      .optional()
      .describe("Several named inputs instead of `inputShape`: each sample's features, flattened, are split among them in this order."),
    layers: z
      .array(layerSchema)
      .min(1)
      .optional()
      .describe('Layers in order; each takes the previous one (or its `inputs`); the last one produces the output.'),
    outputUnits: positiveInt.optional().describe('Preset: units of the output layer (default: from the dataset and loss).'),
    outputActivation: activationSchema.optional().describe('Preset: activation of the output layer (default: from the loss).'),
  })
  .superRefine((m, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (m.preset !== undefined) {
      if (m.layers) issue('layers', 'give either `preset` or `layers`, not both');
      if (m.inputs) issue('inputs', 'presets take one input (`inputShape`)');
      return;
    }
    if (!m.layers) issue('layers', 'give `layers` (or a `preset`)');
    if ((m.inputShape === undefined) === (m.inputs === undefined)) issue('inputShape', 'give exactly one of `inputShape` or `inputs`');
    if (m.outputUnits !== undefined) issue('outputUnits', 'only presets take `outputUnits`; set the last layer instead');
    if (m.outputActivation !== undefined) issue('outputActivation', 'only presets take `outputActivation`; set the last layer instead');
  })
  .describe('A model: `layers` in order (a sequential model, or a graph when layers name their `inputs`), or a `preset`.')
  .meta({ id: 'Model' });

export type ModelInput = z.output<typeof modelSchema>;

/** A model with its layers spelled out: what the engine builds and the job record shows. */
export const expandedModelSchema = z
  .object({ inputShape: shapeSchema.optional(), inputs: z.array(modelInputSchema).optional(), layers: z.array(layerSchema) })
  .describe('The model with its layers spelled out (presets expanded, defaults filled in).')
  .meta({ id: 'ExpandedModel' });
export type ModelSpec = z.infer<typeof expandedModelSchema>;

/** Values one sample feeds the model: its input's size, or all its inputs' together (split in order). */
export function valuesPerSample(model: Pick<ModelSpec, 'inputShape' | 'inputs'>): number {
  return model.inputShape ? elementCount(model.inputShape) : model.inputs!.reduce((s, i) => s + elementCount(i.shape), 0);
}

/** The name a single-input model's input has in `inputs` references. */
export const DEFAULT_INPUT_NAME = 'input';

export interface GraphNode {
  index: number;
  name: string;
  spec: LayerSpec;
  /** Names of the model inputs or earlier layers feeding this layer. */
  inputs: string[];
}

export interface ModelGraph {
  inputs: { name: string; shape: number[] }[];
  nodes: GraphNode[];
  /** The last layer's name: the model's output. */
  output: string;
}

export interface GraphIssue {
  path: (string | number)[];
  message: string;
}

/** Names every layer, wires each to its inputs and checks the graph leads from the inputs to the last layer. */
export function resolveGraph(model: ModelSpec): { graph?: ModelGraph; issues: GraphIssue[] } {
  const issues: GraphIssue[] = [];
  const inputs = model.inputs ?? [{ name: DEFAULT_INPUT_NAME, shape: model.inputShape ?? [] }];
  const defined = new Map<string, number>();
  inputs.forEach((input, i) => {
    if (defined.has(input.name)) issues.push({ path: ['model', 'inputs', i, 'name'], message: `the name \`${input.name}\` is used twice` });
    defined.set(input.name, -1);
  });
  const nodes: GraphNode[] = [];
  model.layers.forEach((spec, index) => {
    const name = spec.name ?? `${spec.type}_${index + 1}`;
    if (defined.has(name)) issues.push({ path: ['model', 'layers', index, 'name'], message: `the name \`${name}\` is used twice` });
    let sources = spec.inputs;
    if (!sources) {
      if (index > 0) sources = [nodes[index - 1]!.name];
      else if (inputs.length === 1) sources = [inputs[0]!.name];
      else {
        issues.push({ path: ['model', 'layers', 0, 'inputs'], message: 'with several model inputs, the first layer must name its `inputs`' });
        sources = [];
      }
    }
    sources.forEach((source, j) => {
      if (!defined.has(source)) {
        issues.push({
          path: ['model', 'layers', index, 'inputs', j],
          message: `\`${source}\` is not a model input or an earlier layer (defined so far: ${[...defined.keys()].join(', ')})`,
        });
      }
    });
    if (sources.length > 1 && !isMerge(spec)) {
      issues.push({
        path: ['model', 'layers', index, 'inputs'],
        message: `a ${spec.type} layer takes one input; merge several with add, concatenate, multiply or average`,
      });
    }
    defined.set(name, index);
    nodes.push({ index, name, spec, inputs: sources });
  });
  if (issues.length > 0) return { issues };

  // Everything must lead to the output: a dangling layer would silently not be trained.
  const output = nodes[nodes.length - 1]!.name;
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const reached = new Set<string>();
  const stack = [output];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (reached.has(name)) continue;
    reached.add(name);
    stack.push(...(byName.get(name)?.inputs ?? []));
  }
  for (const n of nodes) {
    if (!reached.has(n.name)) issues.push({ path: ['model', 'layers', n.index], message: `layer \`${n.name}\` does not lead to the output (the last layer)` });
  }
  inputs.forEach((input, i) => {
    if (!reached.has(input.name)) issues.push({ path: ['model', 'inputs', i], message: `input \`${input.name}\` does not lead to the output` });
  });
  return issues.length > 0 ? { issues } : { graph: { inputs, nodes, output }, issues };
}

const isMerge = (spec: LayerSpec) => spec.type === 'add' || spec.type === 'multiply' || spec.type === 'average' || spec.type === 'concatenate';

/** The layers a model input stands for: presets expanded, everything else as given. */
export function expandModel(model: ModelInput, defaults: Partial<PresetContext>): { model?: ModelSpec; issues: GraphIssue[] } {
  if (model.preset === undefined) {
    return { model: { ...(model.inputs ? { inputs: model.inputs } : { inputShape: model.inputShape! }), layers: model.layers! }, issues: [] };
  }
  const inputShape = model.inputShape ?? defaults.inputShape;
  const outputUnits = model.outputUnits ?? defaults.outputUnits;
  const outputActivation = model.outputActivation ?? defaults.outputActivation ?? 'linear';
  const issues: GraphIssue[] = [];
  if (!inputShape) issues.push({ path: ['model', 'inputShape'], message: 'give `inputShape`: the dataset does not tell it' });
  if (!outputUnits) issues.push({ path: ['model', 'outputUnits'], message: 'give `outputUnits`: the dataset does not tell it' });
  if (!inputShape || !outputUnits) return { issues };
  const preset = PRESETS[model.preset];
  const problem = preset.accepts(inputShape);
  if (problem) return { issues: [{ path: ['model', 'preset'], message: `${model.preset} ${problem}; the input has shape ${shapeText(inputShape)}` }] };
  return { model: { inputShape, layers: preset.layers({ inputShape, outputUnits, outputActivation }).map((l) => layerSchema.parse(l)) }, issues: [] };
}
