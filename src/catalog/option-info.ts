import { z } from 'zod';

/**
 * One option of a catalogue entry (an optimizer's parameter, a built-in dataset's option), as
 * GET /v1/optimizers, GET /v1/datasets/builtin and the generated docs show it: read off the
 * JSON Schema zod derives from the spec's own schemas, so the ranges shown are the ones enforced.
 */
export const optionInfoSchema = z
  .object({
    name: z.string(),
    type: z.string(),
    default: z.unknown().optional(),
    minimum: z.number().optional(),
    exclusiveMinimum: z.number().optional(),
    maximum: z.number().optional(),
    exclusiveMaximum: z.number().optional(),
    enum: z.array(z.unknown()).optional(),
    description: z.string().optional(),
  })
  .describe('An optimizer parameter or a built-in dataset option, with its default and valid range.')
  .meta({ id: 'OptionInfo' });
export type OptionInfo = z.infer<typeof optionInfoSchema>;

/** A property of `z.toJSONSchema(schema, { io: 'input' })`. */
export type JsonProperty = Omit<OptionInfo, 'name' | 'type'> & { type?: string };

// zod states .int() as the safe-integer range: no bound worth showing.
const bound = (v: number | undefined) => (v !== undefined && Math.abs(v) < Number.MAX_SAFE_INTEGER ? v : undefined);

/** The option `name` as its schema property describes it; `known` states what the schema cannot (defaults, real bounds). */
export function optionInfo(name: string, p: JsonProperty, known: { default?: unknown; maximum?: number } = {}): OptionInfo {
  const def = 'default' in known ? known.default : p.default;
  const minimum = bound(p.minimum);
  const maximum = 'maximum' in known ? known.maximum : bound(p.maximum);
  return {
    name,
    type: p.type ?? (p.enum ? 'string' : 'number'),
    ...(def !== undefined ? { default: def } : {}),
    ...(minimum !== undefined ? { minimum } : {}),
    ...(p.exclusiveMinimum !== undefined ? { exclusiveMinimum: p.exclusiveMinimum } : {}),
    ...(maximum !== undefined ? { maximum } : {}),
    ...(p.exclusiveMaximum !== undefined ? { exclusiveMaximum: p.exclusiveMaximum } : {}),
    ...(p.enum ? { enum: p.enum } : {}),
    ...(p.description ? { description: p.description } : {}),
  };
}

/** A numeric option's valid range in interval notation, e.g. `[0, 1)` or `(0, inf)`. */
export function intervalText(o: OptionInfo): string {
  const lo = o.minimum !== undefined ? `[${o.minimum}` : o.exclusiveMinimum !== undefined ? `(${o.exclusiveMinimum}` : '(-inf';
  const hi = o.maximum !== undefined ? `${o.maximum}]` : o.exclusiveMaximum !== undefined ? `${o.exclusiveMaximum})` : 'inf)';
  return `${lo}, ${hi}`;
}

/** The option's row in a docs table: name, default, range, description. */
export function optionRow(o: OptionInfo, range: string): string {
  return `| \`${o.name}\` | ${o.default === undefined ? '—' : `\`${typeof o.default === 'string' ? o.default : JSON.stringify(o.default)}\``} | ${range} | ${o.description ?? ''} |`;
}
