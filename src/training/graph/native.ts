import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An operation of a graph (owned by it) and one of its outputs. */
export type Operation = { readonly __operation: unique symbol };
export type Output = [Operation, number];
export type AttrKind = 'i' | 'f' | 'b' | 's' | 'type' | 'shape' | 'ints' | 'floats' | 'types' | 'tensor';
export type Attr = [string, AttrKind, unknown];
export type TensorData = Float32Array | Int32Array | Uint8Array;
export type Feed = [Output, DType, number[], TensorData];
export interface Fetched {
  dtype: DType;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/** TF_DataType values. */
export const DType = { float32: 1, int32: 3, bool: 10, int64: 9, resource: 20 } as const;
export type DType = (typeof DType)[keyof typeof DType];

export interface NativeGraph {
  addOp(type: string, name: string, inputs: (Output | Output[])[], attrs: Attr[], control: Operation[]): Operation;
  addGradients(ys: Output[], xs: Output[], prefix: string): Output[];
  outputShape(output: Output): number[] | null;
  delete(): void;
}

export interface NativeSession {
  run(feeds: Feed[], fetches: Output[], targets: Operation[]): Fetched[];
  runAsync(feeds: Feed[], fetches: Output[], targets: Operation[]): Promise<Fetched[]>;
  close(): void;
}

export interface GraphAddon {
  Graph: new () => NativeGraph;
  Session: new (graph: NativeGraph, config: Uint8Array | null) => NativeSession;
  tensorflowVersion: string;
}

/** The addon the install step builds (native/graph), found from here in src/ and in dist/src/. */
function addonPath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'native', 'graph', 'build', 'descent_graph.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

let loaded: { addon?: GraphAddon; reason?: string } | undefined;

/**
 * The graph-engine addon, or why it is unavailable. It links the libtensorflow tfjs-node loads,
 * so the tensorflow backend must be loaded first (the one library then serves both).
 */
export function loadGraphAddon(): { addon?: GraphAddon; reason?: string } {
  if (loaded) return loaded;
  const path = addonPath();
  if (!path) return (loaded = { reason: 'the graph engine addon (native/graph) was not built at install' });
  try {
    loaded = { addon: createRequire(import.meta.url)(path) as GraphAddon };
  } catch (err) {
    loaded = { reason: `the graph engine addon does not load: ${(err as Error).message.split('\n')[0]}` };
  }
  return loaded;
}
