import {
  type DatasetSpec,
  type LabelKind,
  describeDataset,
  labelKind,
  resolveBuiltinOptions,
} from '../spec/index.js';
import { createRng, deriveSeed, gaussian } from './rng.js';

/** A dataset as flat row-major arrays, ready to become tensors. */
export interface Dataset {
  x: Float32Array;
  y: Float32Array;
  samples: number;
  inputShape: number[];
  targetShape: number[];
  labels: LabelKind;
}

export class DatasetError extends Error {}

/** Generates (built-in) or flattens (inline) a dataset. `jobSeed` seeds generators without their own seed. */
export function loadDataset(spec: DatasetSpec, jobSeed: number): Dataset {
  if (spec.inline) return fromInline(spec.inline.x, spec.inline.y);
  if (spec.builtin) return generateBuiltin(spec, jobSeed);
  throw new DatasetError('uploaded datasets are not supported by this engine yet');
}

function fromInline(x: unknown[], y: unknown[]): Dataset {
  const shape = describeDataset({ inline: { x: x as number[], y: y as number[] } });
  if (!shape) throw new DatasetError('ragged inline data');
  return {
    x: Float32Array.from((x as number[]).flat(Infinity) as number[]),
    y: Float32Array.from((y as number[]).flat(Infinity) as number[]),
    samples: x.length,
    inputShape: shape.inputShape,
    targetShape: shape.targetShape,
    labels: 'regression',
  };
}

/** A generator returns the i-th sample (features and class or target) of n. */
type Generator = (n: number, o: ReturnType<typeof resolveBuiltinOptions>, rng: () => number) => (i: number) => [number[], number];

const XOR_CORNERS = [
  [0, 0, 0],
  [0, 1, 1],
  [1, 0, 1],
  [1, 1, 0],
] as const;

const GENERATORS: Record<NonNullable<DatasetSpec['builtin']>, Generator> = {
  xor: (_n, o, rng) => (i) => {
    const [a, b, label] = XOR_CORNERS[i % 4]!;
    return [[a + o.noise * gaussian(rng), b + o.noise * gaussian(rng)], label];
  },
  spirals: (n, o, rng) => (i) => {
    const k = i % o.classes;
    const r = Math.floor(i / o.classes) / Math.ceil(n / o.classes);
    const t = 1.75 * r * 2 * Math.PI + (2 * Math.PI * k) / o.classes;
    return [[r * Math.sin(t) + o.noise * gaussian(rng), r * Math.cos(t) + o.noise * gaussian(rng)], k];
  },
  circles: (_n, o, rng) => (i) => {
    const k = i % 2;
    const r = k === 1 ? o.factor : 1;
    const t = 2 * Math.PI * rng();
    return [[r * Math.cos(t) + o.noise * gaussian(rng), r * Math.sin(t) + o.noise * gaussian(rng)], k];
  },
  moons: (_n, o, rng) => (i) => {
    const k = i % 2;
    const t = Math.PI * rng();
    const [px, py] = k === 0 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
    return [[px + o.noise * gaussian(rng), py + o.noise * gaussian(rng)], k];
  },
  blobs: (_n, o, rng) => {
    const centers = Array.from({ length: o.classes }, () => Array.from({ length: o.features }, () => -10 + 20 * rng()));
    return (i) => {
      const k = i % o.classes;
      return [centers[k]!.map((m) => m + o.noise * gaussian(rng)), k];
    };
  },
  linear: (_n, o, rng) => () => {
    const row = Array.from({ length: o.features }, () => -1 + 2 * rng());
    return [row, row.reduce((s, v, j) => s + (j + 1) * v, 0.5) + o.noise * gaussian(rng)];
  },
  sine: (_n, o, rng) => () => {
    const v = -Math.PI + 2 * Math.PI * rng();
    return [[v], Math.sin(v) + o.noise * gaussian(rng)];
  },
};

function generateBuiltin(spec: DatasetSpec, jobSeed: number): Dataset {
  const name = spec.builtin!;
  const o = resolveBuiltinOptions(spec);
  const shape = describeDataset(spec)!;
  const rng = createRng(o.seed ?? deriveSeed(jobSeed, 1));
  const sample = GENERATORS[name](o.samples, o, rng);
  const x: number[][] = [];
  const c: number[] = [];
  for (let i = 0; i < o.samples; i++) {
    const [features, target] = sample(i);
    x.push(features);
    c.push(target);
  }
  const labels = shape.labels === 'regression' ? 'regression' : labelKind(o.classes, o.labels);
  const width = labels === 'onehot' ? o.classes : 1;
  const y = new Float32Array(o.samples * width);
  c.forEach((v, i) => {
    if (labels === 'onehot') y[i * width + v] = 1;
    else y[i] = v;
  });
  return {
    x: Float32Array.from(x.flat()),
    y,
    samples: o.samples,
    inputShape: shape.inputShape,
    targetShape: [width],
    labels,
  };
}
