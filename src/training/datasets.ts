import { type DatasetSpec, type LabelKind, BUILTIN_DATASETS, describeDataset, labelKind, resolveBuiltinOptions } from '../spec/index.js';
import { IRIS } from './iris-data.js';
import { mnistDigits } from './mnist-data.js';
import { createRng, deriveSeed, gaussian } from './rng.js';
import { DatasetError } from './errors.js';

/** A dataset as flat row-major arrays, ready to become tensors. */
export interface Dataset {
  x: Float32Array;
  y: Float32Array;
  samples: number;
  inputShape: number[];
  targetShape: number[];
  labels: LabelKind;
}

/**
 * Generates (built-in) or flattens (inline) a dataset. `jobSeed` seeds generators without their
 * own seed.
 */
export function loadDataset(spec: DatasetSpec, jobSeed: number): Dataset {
  if (spec.inline) return fromInline(spec.inline.x, spec.inline.y);
  if (spec.builtin) return generateBuiltin(spec, jobSeed);
  throw new DatasetError('uploaded datasets are loaded from the artifact store, not generated');
}

/**
 * A holdout (training.validationData). A synthetic built-in holdout of the training set's own
 * dataset, without a seed of its own, is a fresh draw from the same distribution: the same
 * structure (blob centres) with new noise, and for `airline-like` the windows that follow the
 * training ones. Anything else loads as it is, seeded apart from the training data.
 */
export function loadHoldout(spec: DatasetSpec, training: DatasetSpec, jobSeed: number): Dataset {
  if (!spec.builtin || spec.builtin !== training.builtin || spec.seed !== undefined || isReal(spec.builtin)) {
    return loadDataset(spec, deriveSeed(jobSeed, 2));
  }
  const structureSeed = training.seed ?? deriveSeed(jobSeed, 1);
  return generateBuiltin(spec, jobSeed, {
    structure: createRng(structureSeed),
    noiseSeed: deriveSeed(structureSeed, 2),
    start: resolveBuiltinOptions(training).samples,
  });
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

/**
 * A generator returns the i-th sample (features and class or target) of n. `structure` draws
 * what defines the distribution (blob centres); for a training set it is `rng` itself. `start`
 * shifts a time series (a holdout continues after the training windows).
 */
type Generator = (
  n: number,
  o: ReturnType<typeof resolveBuiltinOptions>,
  rng: () => number,
  structure: () => number,
  start: number,
) => (i: number) => [number[], number];

const XOR_CORNERS = [
  [0, 0, 0],
  [0, 1, 1],
  [1, 0, 1],
  [1, 1, 0],
] as const;

/** Real datasets: their features and class, already in their fixed order. */
type RealName = 'mnist' | 'iris';
const isReal = (name: NonNullable<DatasetSpec['builtin']>): name is RealName => name === 'mnist' || name === 'iris';
type SyntheticName = Exclude<NonNullable<DatasetSpec['builtin']>, RealName>;

const SINE_PERIOD = 20;

const GENERATORS: Record<SyntheticName, Generator> = {
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
  blobs: (_n, o, rng, structure) => {
    const centers = Array.from({ length: o.classes }, () => Array.from({ length: o.features }, () => -10 + 20 * structure()));
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
  'sine-sequence': (_n, o, rng) => () => {
    const phase = 2 * Math.PI * rng();
    const value = (k: number) => Math.sin(phase + (2 * Math.PI * k) / SINE_PERIOD) + o.noise * gaussian(rng);
    const window = Array.from({ length: o.timesteps }, (_, k) => value(k));
    return [window, value(o.timesteps)];
  },
  'airline-like': (n, o, rng, _structure, start) => {
    const series = Array.from({ length: n + o.timesteps }, (_, i) => {
      const t = start + i;
      const season = 1 + 0.2 * Math.sin((2 * Math.PI * t) / 12) + 0.05 * Math.sin((4 * Math.PI * t) / 12);
      return (1 + t / 120) * season + o.noise * gaussian(rng);
    });
    return (i) => [series.slice(i, i + o.timesteps), series[i + o.timesteps]!];
  },
};

/** Fisher's iris, round-robin over the species (setosa, versicolor, virginica, setosa, ...). */
function irisRows(): { x: Float32Array; classes: Int32Array } {
  const bySpecies = [0, 1, 2].map((k) => IRIS.filter((r) => r[4] === k));
  const x = new Float32Array(IRIS.length * 4);
  const classes = new Int32Array(IRIS.length);
  for (let i = 0; i < IRIS.length; i++) {
    const row = bySpecies[i % 3]![Math.floor(i / 3)]!;
    x.set(row.slice(0, 4), i * 4);
    classes[i] = row[4];
  }
  return { x, classes };
}

function generateBuiltin(spec: DatasetSpec, jobSeed: number, holdout?: { structure: () => number; noiseSeed: number; start: number }): Dataset {
  const name = spec.builtin!;
  const o = resolveBuiltinOptions(spec);
  if (isReal(name)) {
    const all = name === 'mnist' ? mnistDigits() : irisRows();
    const width = all.x.length / all.classes.length;
    const x = all.x.slice(o.offset * width, (o.offset + o.samples) * width);
    return withLabels(spec, x, Array.from(all.classes.subarray(o.offset, o.offset + o.samples)));
  }
  const rng = createRng(holdout?.noiseSeed ?? o.seed ?? deriveSeed(jobSeed, 1));
  const sample = GENERATORS[name](o.samples, o, rng, holdout?.structure ?? rng, holdout?.start ?? 0);
  const x: number[][] = [];
  const c: number[] = [];
  for (let i = 0; i < o.samples; i++) {
    const [features, target] = sample(i);
    x.push(features);
    c.push(target);
  }
  return withLabels(spec, Float32Array.from(x.flat()), c);
}

/** A built-in's features with its targets: regression values, or classes as the spec's labels ask. */
function withLabels(spec: DatasetSpec, x: Float32Array, c: number[]): Dataset {
  const o = resolveBuiltinOptions(spec);
  const shape = describeDataset(spec)!;
  const labels = BUILTIN_DATASETS[spec.builtin!].task === 'regression' ? 'regression' : labelKind(o.classes, o.labels);
  const width = labels === 'onehot' ? o.classes : 1;
  const y = new Float32Array(o.samples * width);
  c.forEach((v, i) => {
    if (labels === 'onehot') y[i * width + v] = 1;
    else y[i] = v;
  });
  return { x, y, samples: o.samples, inputShape: shape.inputShape, targetShape: [width], labels };
}
