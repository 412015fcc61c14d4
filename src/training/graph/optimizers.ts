import { DECOUPLED_DECAY, type OptimizerSpec } from '../../spec/index.js';
import { DType, type Operation, type Output } from './native.js';
import type { GraphBuilder } from './ops.js';

/** What one step's scalars are computed from (the eager TorchOptimizer keeps the same). */
export interface StepState {
  /** The step number, from 1. */
  t: number;
  lr: number;
  /** NAdam's momentum schedule at t and t + 1, and prod mu_1..mu_t. */
  mu: number;
  muNext: number;
  muProduct: number;
}

export interface OptimizerContext {
  g: GraphBuilder;
  /** A state tensor of this parameter, by the slot name the eager optimizer uses. */
  slot(name: string, init?: number): Output;
  /** A scalar fed every step, computed in double precision from the step state. */
  scalar(name: string, value: (s: StepState) => number): Output;
  /** Ops every update waits for (every read of the weights, every gradient). */
  after: Operation[];
}

/** A parameter: its variable, the value the forward pass read, and its gradient. */
export interface Param {
  handle: Output;
  value: Output;
  grad: Output;
}

/** The NAdam momentum schedule mu_t, as the eager optimizer computes it. */
export const nadamMu = (o: { beta1: number; momentumDecay: number }, t: number) => o.beta1 * (1 - 0.5 * 0.96 ** (t * o.momentumDecay));

/**
 * One step of PyTorch's rule for one parameter, as graph ops (src/training/optimizers.ts is the
 * eager form, docs/optimizers.md the formulas). The fused ResourceApply* kernels are used where
 * they compute the same rule: Adam's with epsilon fed as eps * sqrt(1 - beta2^t); RMSProp (eps
 * inside the root there), AdaMax (eps placement), NAdam and Lion are element-wise ops.
 */
export function buildUpdate(ctx: OptimizerContext, o: OptimizerSpec, p: Param): Operation[] {
  const { g, after } = ctx;
  const lr = ctx.scalar('lr', (s) => s.lr);
  const c = (v: number) => g.constant(v);
  const assign = (handle: Output, value: Output) => g.op('AssignVariableOp', [handle, value], [['dtype', 'type', DType.float32]], after);
  const apply = (type: string, inputs: Output[], attrs: [string, 'b', boolean][] = []) => g.op(type, inputs, attrs, after);
  let grad = p.grad;
  if (o.weightDecay > 0 && !DECOUPLED_DECAY.includes(o.name)) grad = g.add(grad, g.scale(p.value, o.weightDecay));
  /** s <- beta * s + (1 - beta) * value, returned with its assignment. */
  const moment = (name: string, value: Output, beta: number): [Output, Operation] => {
    const next = g.add(g.scale(g.read(ctx.slot(name)), beta), g.scale(value, 1 - beta));
    return [next, assign(ctx.slot(name), next)];
  };
  switch (o.name) {
    case 'sgd':
    case 'momentum':
    case 'nesterov': {
      if (o.momentum === 0) return [apply('ResourceApplyGradientDescent', [p.handle, lr, grad])];
      const nesterov = o.name === 'nesterov' || (o.name === 'sgd' && o.nesterov);
      return [apply('ResourceApplyMomentum', [p.handle, ctx.slot('momentum'), lr, grad, c(o.momentum)], [['use_nesterov', 'b', nesterov]])];
    }
    case 'adagrad':
      return [apply('ResourceApplyAdagradV2', [p.handle, ctx.slot('sum', o.initialAccumulatorValue), lr, c(o.epsilon), grad])];
    case 'adadelta':
      return [apply('ResourceApplyAdadelta', [p.handle, ctx.slot('squareAvg'), ctx.slot('accDelta'), lr, c(o.rho), c(o.epsilon), grad])];
    case 'adam':
    case 'adamw':
    case 'amsgrad': {
      const b1p = ctx.scalar('beta1Power', (s) => o.beta1 ** s.t);
      const b2p = ctx.scalar('beta2Power', (s) => o.beta2 ** s.t);
      const eps = ctx.scalar('adamEpsilon', (s) => o.epsilon * Math.sqrt(1 - o.beta2 ** s.t));
      const ops: Operation[] = [];
      if (o.name === 'adamw' && o.weightDecay > 0) {
        // Decoupled decay first: w <- w - lr * wd * w, then the Adam step on the decayed w.
        ops.push(apply('ResourceApplyGradientDescent', [p.handle, ctx.scalar('decay', (s) => s.lr * o.weightDecay), p.value]));
      }
      const slots = [ctx.slot('expAvg'), ctx.slot('expAvgSq'), ...(o.name === 'amsgrad' ? [ctx.slot('maxExpAvgSq')] : [])];
      const type = o.name === 'amsgrad' ? 'ResourceApplyAdamWithAmsgrad' : 'ResourceApplyAdam';
      ops.push(g.op(type, [p.handle, ...slots, b1p, b2p, lr, c(o.beta1), c(o.beta2), eps, grad], [], [...after, ...ops]));
      return ops;
    }
    case 'rmsprop': {
      const [v, setV] = moment('squareAvg', g.unary('Square', grad), o.rho);
      const ops = [setV];
      let avg: Output;
      if (o.centered) {
        const [ga, setGa] = moment('gradAvg', grad, o.rho);
        ops.push(setGa);
        avg = g.shift(g.unary('Sqrt', g.sub(v, g.unary('Square', ga))), o.epsilon);
      } else {
        avg = g.shift(g.unary('Sqrt', v), o.epsilon);
      }
      let step = g.div(grad, avg);
      if (o.momentum > 0) {
        step = g.add(g.scale(g.read(ctx.slot('momentum')), o.momentum), step);
        ops.push(assign(ctx.slot('momentum'), step));
      }
      ops.push(assign(p.handle, g.sub(p.value, g.mul(step, lr))));
      return ops;
    }
    case 'adamax': {
      const [m, setM] = moment('expAvg', grad, o.beta1);
      const u = g.maximum(g.scale(g.read(ctx.slot('expInf')), o.beta2), g.shift(g.unary('Abs', grad), o.epsilon));
      const rate = ctx.scalar('adamaxRate', (s) => s.lr / (1 - o.beta1 ** s.t));
      return [setM, assign(ctx.slot('expInf'), u), assign(p.handle, g.sub(p.value, g.mul(g.div(m, u), rate)))];
    }
    case 'nadam': {
      const [m, setM] = moment('expAvg', grad, o.beta1);
      const [v, setV] = moment('expAvgSq', g.unary('Square', grad), o.beta2);
      const bc2 = ctx.scalar('nadamCorrection', (s) => 1 - o.beta2 ** s.t);
      const gradRate = ctx.scalar('nadamGradRate', (s) => (s.lr * (1 - s.mu)) / (1 - s.muProduct));
      const momentRate = ctx.scalar('nadamMomentRate', (s) => (s.lr * s.muNext) / (1 - s.muProduct * s.muNext));
      const denom = g.shift(g.unary('Sqrt', g.div(v, bc2)), o.epsilon);
      const next = g.sub(g.sub(p.value, g.mul(g.div(grad, denom), gradRate)), g.mul(g.div(m, denom), momentRate));
      return [setM, setV, assign(p.handle, next)];
    }
    case 'lion': {
      const m = g.read(ctx.slot('expAvg'));
      const direction = g.unary('Sign', g.add(g.scale(m, o.beta1), g.scale(grad, 1 - o.beta1)));
      const setM = assign(ctx.slot('expAvg'), g.add(g.scale(m, o.beta2), g.scale(grad, 1 - o.beta2)));
      const w =
        o.weightDecay > 0
          ? g.mul(
              p.value,
              ctx.scalar('lionDecay', (s) => 1 - s.lr * o.weightDecay),
            )
          : p.value;
      return [setM, assign(p.handle, g.sub(w, g.mul(direction, lr)))];
    }
  }
}

/** Clipping before the step, as the eager engine (and torch.nn.utils) does: by value, then by global norm. */
export function clipGradients(g: GraphBuilder, grads: Output[], clipValue?: number, clipNorm?: number): Output[] {
  let out = grads;
  if (clipValue !== undefined) out = out.map((x) => g.clip(x, -clipValue, clipValue));
  if (clipNorm !== undefined) {
    const total = g.unary('Sqrt', g.addN(out.map((x) => g.total(g.unary('Square', x)))));
    const coef = g.minimum(g.div(g.constant(clipNorm), g.shift(total, 1e-6)), g.constant(1));
    out = out.map((x) => g.mul(x, coef));
  }
  return out;
}
