import { type Attr, DType, type GraphAddon, type NativeGraph, type Operation, type Output } from './native.js';

const f32 = (v: number | number[]) => new Float32Array(typeof v === 'number' ? [v] : v);

/**
 * A TensorFlow graph under construction, with the handful of ops the builders use by name.
 * Every op gets a unique name; attribute types (T, Tidx, ...) are inferred from the inputs.
 */
export class GraphBuilder {
  readonly graph: NativeGraph;
  private count = 0;

  constructor(addon: GraphAddon) {
    this.graph = new addon.Graph();
  }

  op(type: string, inputs: (Output | Output[])[] = [], attrs: Attr[] = [], control: Operation[] = []): Operation {
    return this.graph.addOp(type, `${type}_${this.count++}`, inputs, attrs, control);
  }

  /** Output 0 of a new op. */
  out(type: string, inputs: (Output | Output[])[] = [], attrs: Attr[] = []): Output {
    return [this.op(type, inputs, attrs), 0];
  }

  outputs(op: Operation, n: number): Output[] {
    return Array.from({ length: n }, (_, i) => [op, i] as Output);
  }

  shapeOf(x: Output): number[] {
    const s = this.graph.outputShape(x);
    if (!s) throw new Error('a tensor of unknown rank');
    return s;
  }

  // ---- constants and inputs

  constant(values: number | number[], shape: number[] = typeof values === 'number' ? [] : [values.length]): Output {
    return this.out(
      'Const',
      [],
      [
        ['dtype', 'type', DType.float32],
        ['value', 'tensor', { dtype: DType.float32, shape, data: f32(values) }],
      ],
    );
  }

  ints(values: number[], shape: number[] = [values.length]): Output {
    return this.out(
      'Const',
      [],
      [
        ['dtype', 'type', DType.int32],
        ['value', 'tensor', { dtype: DType.int32, shape, data: new Int32Array(values) }],
      ],
    );
  }

  placeholder(dtype: DType, shape: number[]): Output {
    return this.out(
      'Placeholder',
      [],
      [
        ['dtype', 'type', dtype],
        ['shape', 'shape', shape],
      ],
    );
  }

  // ---- resource variables

  variable(shape: number[]): Output {
    return this.out(
      'VarHandleOp',
      [],
      [
        ['dtype', 'type', DType.float32],
        ['shape', 'shape', shape],
        ['shared_name', 's', `v${this.count}`],
      ],
    );
  }

  read(handle: Output, control: Operation[] = []): Output {
    return [this.op('ReadVariableOp', [handle], [['dtype', 'type', DType.float32]], control), 0];
  }

  assign(handle: Output, value: Output): Operation {
    return this.op('AssignVariableOp', [handle, value], [['dtype', 'type', DType.float32]]);
  }

  group(ops: Operation[]): Operation {
    return this.op('NoOp', [], [], ops);
  }

  // ---- element-wise math

  add = (a: Output, b: Output) => this.out('AddV2', [a, b]);
  sub = (a: Output, b: Output) => this.out('Sub', [a, b]);
  mul = (a: Output, b: Output) => this.out('Mul', [a, b]);
  div = (a: Output, b: Output) => this.out('RealDiv', [a, b]);
  maximum = (a: Output, b: Output) => this.out('Maximum', [a, b]);
  minimum = (a: Output, b: Output) => this.out('Minimum', [a, b]);
  unary = (type: string, x: Output) => this.out(type, [x]);
  /** x * c for a constant c. */
  scale = (x: Output, c: number) => this.mul(x, this.constant(c));
  /** x + c for a constant c. */
  shift = (x: Output, c: number) => this.add(x, this.constant(c));
  clip = (x: Output, lo: number, hi: number) => this.out('ClipByValue', [x, this.constant(lo), this.constant(hi)]);
  addN = (xs: Output[]) => (xs.length === 1 ? xs[0]! : this.out('AddN', [xs]));
  cast = (x: Output, to: DType) => this.out('Cast', [x], [['DstT', 'type', to]]);

  // ---- reductions and shapes

  sum = (x: Output, axes: number[], keepDims = false) => this.out('Sum', [x, this.ints(axes)], [['keep_dims', 'b', keepDims]]);
  mean = (x: Output, axes: number[], keepDims = false) => this.out('Mean', [x, this.ints(axes)], [['keep_dims', 'b', keepDims]]);
  max = (x: Output, axes: number[], keepDims = false) => this.out('Max', [x, this.ints(axes)], [['keep_dims', 'b', keepDims]]);
  argMax = (x: Output, axis: number) => this.out('ArgMax', [x, this.ints([axis], [])], [['output_type', 'type', DType.int32]]);
  /** The sum of every element, as a scalar. */
  total = (x: Output) =>
    this.sum(
      x,
      this.shapeOf(x).map((_, i) => i),
    );
  reshape = (x: Output, shape: number[]) => this.out('Reshape', [x, this.ints(shape)]);
  expandDims = (x: Output, axis: number) => this.out('ExpandDims', [x, this.ints([axis], [])]);
  squeeze = (x: Output, axis: number) => this.out('Squeeze', [x], [['squeeze_dims', 'ints', [axis]]]);
  /** The rows of x at int32 indices, along axis 0. */
  rows = (x: Output, indices: Output) => this.out('GatherV2', [x, indices, this.ints([0], [])]);
  /** Rows of a 2-D tensor's columns [begin, begin + size). */
  columns = (x: Output, begin: number, size: number) => this.out('Slice', [x, this.ints([0, begin]), this.ints([-1, size])]);

  delete(): void {
    this.graph.delete();
  }
}
