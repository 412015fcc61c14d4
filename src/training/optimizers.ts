import * as tf from '@tensorflow/tfjs';
import { DECOUPLED_DECAY, type OptimizerSpec } from '../spec/index.js';

type Slots = Record<string, tf.Variable>;
type NamedTensor = { name: string; tensor: tf.Tensor };

/**
 * Every optimizer of the catalogue, with PyTorch's torch.optim update rules (the formulas are in
 * docs/optimizers.md). tfjs' built-ins differ in places (epsilon inside the square root in
 * RMSProp and Adagrad, Adagrad's initial accumulator), so Descent applies the rules itself.
 * State (step count and per-variable slots) round-trips through getWeights/setWeights.
 */
export class TorchOptimizer extends tf.Optimizer {
  static readonly className = 'DescentTorchOptimizer';
  private readonly slots = new Map<string, Slots>();
  private step = 0;
  /** NAdam's running product of the momentum schedule, prod mu_1..mu_t. */
  private muProduct = 1;
  /** The rate of the current epoch: the spec's learningRate as the schedule scales it. */
  learningRate: number;

  constructor(readonly spec: OptimizerSpec) {
    super();
    this.learningRate = spec.learningRate;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const items = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name]! }));
    this.step += 1;
    const o = this.spec;
    let nadam: { mu: number; muNext: number; muProduct: number } | undefined;
    if (o.name === 'nadam') {
      const mu = o.beta1 * (1 - 0.5 * 0.96 ** (this.step * o.momentumDecay));
      const muNext = o.beta1 * (1 - 0.5 * 0.96 ** ((this.step + 1) * o.momentumDecay));
      this.muProduct *= mu;
      nadam = { mu, muNext, muProduct: this.muProduct };
    }
    const coupledDecay = o.weightDecay > 0 && !DECOUPLED_DECAY.includes(o.name);
    tf.tidy(() => {
      const grads = clip(
        items.map((i) => i.tensor),
        this.spec.clipValue,
        this.spec.clipNorm,
      );
      items.forEach((item, i) => {
        const variable = tf.engine().registeredVariables[item.name];
        if (!variable || !variable.trainable) return;
        let g = grads[i]!;
        if (coupledDecay) g = g.add(variable.mul(o.weightDecay));
        variable.assign(this.update(variable, g, item.name, nadam));
      });
    });
    this.incrementIterations();
  }

  private slot(varName: string, slot: string, like: tf.Tensor, init = 0): tf.Variable {
    let s = this.slots.get(varName);
    if (!s) this.slots.set(varName, (s = {}));
    if (!s[slot]) s[slot] = tf.variable(tf.fill(like.shape, init), false, `${varName}/${slot}`);
    return s[slot];
  }

  /** One step of the rule for one parameter `p` with gradient `g`; returns the new value. */
  private update(p: tf.Variable, g: tf.Tensor, name: string, nadam?: { mu: number; muNext: number; muProduct: number }): tf.Tensor {
    const o = this.spec;
    const lr = this.learningRate;
    const t = this.step;
    switch (o.name) {
      case 'sgd':
      case 'momentum':
      case 'nesterov': {
        // `sgd` with momentum is torch.optim.SGD(momentum, nesterov) as the named variants are.
        if (o.momentum === 0) return p.sub(g.mul(lr));
        const b = this.slot(name, 'momentum', p);
        b.assign(b.mul(o.momentum).add(g));
        const nesterov = o.name === 'nesterov' || (o.name === 'sgd' && o.nesterov);
        return nesterov ? p.sub(g.add(b.mul(o.momentum)).mul(lr)) : p.sub(b.mul(lr));
      }
      case 'adagrad': {
        const sum = this.slot(name, 'sum', p, o.initialAccumulatorValue);
        sum.assign(sum.add(g.square()));
        return p.sub(g.div(sum.sqrt().add(o.epsilon)).mul(lr));
      }
      case 'adadelta': {
        const v = this.slot(name, 'squareAvg', p);
        const u = this.slot(name, 'accDelta', p);
        v.assign(v.mul(o.rho).add(g.square().mul(1 - o.rho)));
        const delta = u.add(o.epsilon).sqrt().div(v.add(o.epsilon).sqrt()).mul(g);
        u.assign(u.mul(o.rho).add(delta.square().mul(1 - o.rho)));
        return p.sub(delta.mul(lr));
      }
      case 'rmsprop': {
        const v = this.slot(name, 'squareAvg', p);
        v.assign(v.mul(o.rho).add(g.square().mul(1 - o.rho)));
        let avg: tf.Tensor;
        if (o.centered) {
          const ga = this.slot(name, 'gradAvg', p);
          ga.assign(ga.mul(o.rho).add(g.mul(1 - o.rho)));
          avg = v.sub(ga.square()).sqrt().add(o.epsilon);
        } else {
          avg = v.sqrt().add(o.epsilon);
        }
        if (o.momentum > 0) {
          const buf = this.slot(name, 'momentum', p);
          buf.assign(buf.mul(o.momentum).add(g.div(avg)));
          return p.sub(buf.mul(lr));
        }
        return p.sub(g.div(avg).mul(lr));
      }
      case 'adam':
      case 'adamw':
      case 'amsgrad': {
        // AdamW shrinks the weights first (decoupled decay), then takes the Adam step.
        const w = o.name === 'adamw' && o.weightDecay > 0 ? p.mul(1 - lr * o.weightDecay) : p;
        const m = this.moment(name, 'expAvg', p, g, o.beta1);
        const v = this.moment(name, 'expAvgSq', p, g.square(), o.beta2);
        let second: tf.Tensor = v;
        if (o.name === 'amsgrad') {
          const max = this.slot(name, 'maxExpAvgSq', p);
          max.assign(tf.maximum(max, v));
          second = max;
        }
        const denom = second
          .sqrt()
          .div(Math.sqrt(1 - o.beta2 ** t))
          .add(o.epsilon);
        return w.sub(m.div(denom).mul(lr / (1 - o.beta1 ** t)));
      }
      case 'adamax': {
        const m = this.moment(name, 'expAvg', p, g, o.beta1);
        const u = this.slot(name, 'expInf', p);
        u.assign(tf.maximum(u.mul(o.beta2), g.abs().add(o.epsilon)));
        return p.sub(m.div(u).mul(lr / (1 - o.beta1 ** t)));
      }
      case 'nadam': {
        const { mu, muNext, muProduct } = nadam!;
        const m = this.moment(name, 'expAvg', p, g, o.beta1);
        const v = this.moment(name, 'expAvgSq', p, g.square(), o.beta2);
        const denom = v
          .div(1 - o.beta2 ** t)
          .sqrt()
          .add(o.epsilon);
        return p.sub(g.div(denom).mul((lr * (1 - mu)) / (1 - muProduct))).sub(m.div(denom).mul((lr * muNext) / (1 - muProduct * muNext)));
      }
      case 'lion': {
        const m = this.slot(name, 'expAvg', p);
        const direction = m
          .mul(o.beta1)
          .add(g.mul(1 - o.beta1))
          .sign();
        m.assign(m.mul(o.beta2).add(g.mul(1 - o.beta2)));
        const w = o.weightDecay > 0 ? p.mul(1 - lr * o.weightDecay) : p;
        return w.sub(direction.mul(lr));
      }
    }
  }

  /** An exponential moving average slot: s <- beta * s + (1 - beta) * value; returns s. */
  private moment(varName: string, slot: string, like: tf.Tensor, value: tf.Tensor, beta: number): tf.Variable {
    const s = this.slot(varName, slot, like);
    s.assign(s.mul(beta).add(value.mul(1 - beta)));
    return s;
  }

  /** The step count and slots, as tensors the caller owns (and disposes). */
  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [{ name: 'iter', tensor: tf.scalar(this.step, 'int32') }];
    for (const varName of [...this.slots.keys()].sort()) {
      const s = this.slots.get(varName)!;
      for (const slot of Object.keys(s).sort()) out.push({ name: `${varName}/${slot}`, tensor: s[slot]!.clone() });
    }
    return out;
  }

  override async setWeights(weights: NamedTensor[]): Promise<void> {
    for (const { name, tensor } of weights) {
      if (name === 'iter') {
        this.step = (await tensor.data())[0]!;
        this.muProduct = 1;
        if (this.spec.name === 'nadam') {
          for (let i = 1; i <= this.step; i++) this.muProduct *= this.spec.beta1 * (1 - 0.5 * 0.96 ** (i * this.spec.momentumDecay));
        }
        this.iterations_ = this.step;
        continue;
      }
      const cut = name.lastIndexOf('/');
      this.slot(name.slice(0, cut), name.slice(cut + 1), tensor).assign(tensor);
    }
  }

  override dispose(): void {
    for (const s of this.slots.values()) for (const v of Object.values(s)) v.dispose();
    this.slots.clear();
    super.dispose();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.spec };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config);
  }
}
tf.serialization.registerClass(TorchOptimizer);

/** Clipping before the step, as torch.nn.utils does: by value, then by global norm. */
function clip(grads: tf.Tensor[], clipValue?: number, clipNorm?: number): tf.Tensor[] {
  let out = grads;
  if (clipValue !== undefined) out = out.map((g) => tf.clipByValue(g, -clipValue, clipValue));
  if (clipNorm !== undefined) {
    const total = tf.sqrt(tf.addN(out.map((g) => g.square().sum())));
    const coef = tf.minimum(tf.scalar(clipNorm).div(total.add(1e-6)), 1);
    out = out.map((g) => g.mul(coef));
  }
  return out;
}

export function createOptimizer(spec: OptimizerSpec): TorchOptimizer {
  return new TorchOptimizer(spec);
}
