import type { Output } from './native.js';
import type { GraphBuilder } from './ops.js';
import { activation } from './activations.js';

/**
 * tfjs' SimpleRNN, LSTM and GRU cells unrolled over the input's fixed timesteps (TensorFlow's
 * gradient registry has no While loop or fused RNN cell gradients): the same gate order, split
 * points and activations as tfjs-layers' cells, zero initial state, goBackwards reversing the
 * steps, and the outputs stacked in processing order for returnSequences, as tfjs' rnn() does.
 */
export type CellKind = 'SimpleRNN' | 'LSTM' | 'GRU';

export interface RecurrentWeights {
  kernel: Output;
  recurrent: Output;
  bias?: Output;
}

export function unroll(g: GraphBuilder, kind: CellKind, x: Output, c: Record<string, unknown>, w: RecurrentWeights): Output {
  const shape = g.shapeOf(x);
  const steps = shape[1]!;
  const units = c.units as number;
  const act = (v: Output) => activation(g, c.activation as string, v);
  const recAct = (v: Output) => activation(g, c.recurrentActivation as string, v);
  const inputs = g.outputs(
    g.op(
      'Unpack',
      [x],
      [
        ['num', 'i', steps],
        ['axis', 'i', 1],
      ],
    ),
    steps,
  );
  if (c.goBackwards) inputs.reverse();
  // The zero state, batch-sized: zeros like the first input's projection onto the units.
  const zero = g.unary('ZerosLike', g.out('MatMul', [inputs[0]!, g.columns(w.kernel, 0, units)]));
  const split = (v: Output, n: number) => g.outputs(g.op('Split', [g.ints([-1], []), v], [['num_split', 'i', n]]), n);
  const withBias = (v: Output) => (w.bias ? g.out('BiasAdd', [v, w.bias]) : v);
  let h = zero;
  let carry = zero;
  const outputs: Output[] = [];
  for (const xt of inputs) {
    if (kind === 'SimpleRNN') {
      h = act(g.add(withBias(g.out('MatMul', [xt, w.kernel])), g.out('MatMul', [h, w.recurrent])));
    } else if (kind === 'LSTM') {
      const z = withBias(g.add(g.out('MatMul', [xt, w.kernel]), g.out('MatMul', [h, w.recurrent])));
      const [z0, z1, z2, z3] = split(z, 4) as [Output, Output, Output, Output];
      carry = g.add(g.mul(recAct(z1), carry), g.mul(recAct(z0), act(z2)));
      h = g.mul(recAct(z3), act(carry));
    } else {
      const matrixX = withBias(g.out('MatMul', [xt, w.kernel]));
      const inner = g.out('MatMul', [h, g.columns(w.recurrent, 0, 2 * units)]);
      const [xz, xr, xh] = split(matrixX, 3) as [Output, Output, Output];
      const [rz, rr] = split(inner, 2) as [Output, Output];
      const zGate = recAct(g.add(xz, rz));
      const rGate = recAct(g.add(xr, rr));
      const hh = act(g.add(xh, g.out('MatMul', [g.mul(rGate, h), g.columns(w.recurrent, 2 * units, units)])));
      h = g.add(g.mul(zGate, h), g.mul(g.sub(g.constant(1), zGate), hh));
    }
    outputs.push(h);
  }
  return c.returnSequences ? g.out('Pack', [outputs], [['axis', 'i', 1]]) : h;
}
