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

type Generator = (n: number, o: ReturnType<typeof resolveBuiltinOptions>, rng: () => number) => { x: number[][]; c: number[] };

const GENERATORS: Record<NonNullable<DatasetSpec['builtin']>, Generator> = {
  xor: (n, o, rng) => {
    const corners = [
      [0, 0, 0],
      [0, 1, 1],
      [1, 0, 1],
      [1, 1, 0],
    ];
    const x: number[][] = [];
    const c: number[] = [];
    for (let i = 0; i < n; i++) {
      const [a, b, label] = corners[i % 4]!;
      x.push([a! + o.noise * gaussian(rng), b! + o.noise * gaussian(rng)]);
      c.push(label!);
    }
    return { x, c };
  },
  spirals: (n, o, rng) => {
    const x: number[][] = [];
    const c: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = i % o.classes;
      const r = Math.floor(i / o.classes) / Math.ceil(n / o.classes);
      const t = 1.75 * r * 2 * Math.PI + (2 * Math.PI * k) / o.classes;
      x.push([r * Math.sin(t) + o.noise * gaussian(rng), r * Math.cos(t) + o.noise * gaussian(rng)]);
      c.push(k);
    }
    return { x, c };
  },
  circles: (n, o, rng) => {
    const x: number[][] = [];
    const c: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = i % 2;
      const r = k === 1 ? o.factor : 1;
      const t = 2 * Math.PI * rng();
      x.push([r * Math.cos(t) + o.noise * gaussian(rng), r * Math.sin(t) + o.noise * gaussian(rng)]);
      c.push(k);
    }
    return { x, c };
  },
  moons: (n, o, rng) => {
    const x: number[][] = [];
    const c: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = i % 2;
      const t = Math.PI * rng();
      const point = k === 0 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
      x.push([point[0]! + o.noise * gaussian(rng), point[1]! + o.noise * gaussian(rng)]);
      c.push(k);
    }
    return { x, c };
  },
  blobs: (n, o, rng) => {
    const centers = Array.from({ length: o.classes }, () => Array.from({ length: o.features }, () => -10 + 20 * rng()));
    const x: number[][] = [];
    const c: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = i % o.classes;
      x.push(centers[k]!.map((m) => m + o.noise * gaussian(rng)));
      c.push(k);
    }
    return { x, c };
  },
  linear: (n, o, rng) => {
    const x: number[][] = [];
    const c: number[] = [];
    for (let i = 0; i < n; i++) {
      const row = Array.from({ length: o.features }, () => -1 + 2 * rng());
      x.push(row);
      c.push(row.reduce((s, v, j) => s + (j + 1) * v, 0.5) + o.noise * gaussian(rng));
    }
    return { x, c };
  },
  sine: (n, o, rng) => {
    const x: number[][] = [];
    const c: number[] = [];
    for (let i = 0; i < n; i++) {
      const v = -Math.PI + 2 * Math.PI * rng();
      x.push([v]);
      c.push(Math.sin(v) + o.noise * gaussian(rng));
    }
    return { x, c };
  },
};

function generateBuiltin(spec: DatasetSpec, jobSeed: number): Dataset {
  const name = spec.builtin!;
  const o = resolveBuiltinOptions(spec);
  const shape = describeDataset(spec)!;
  const rng = createRng(o.seed ?? deriveSeed(jobSeed, 1));
  const { x, c } = GENERATORS[name](o.samples, o, rng);
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
