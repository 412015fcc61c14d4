import * as tf from '@tensorflow/tfjs';
import type { OptimizerSpec } from '../spec/index.js';

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

  constructor(readonly spec: OptimizerSpec) {
    super();
  }

  get learningRate(): number {
    return this.spec.learningRate;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const items = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name]! }));
    this.step += 1;
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
        if (this.spec.weightDecay > 0) g = g.add(variable.mul(this.spec.weightDecay));
        variable.assign(this.update(variable, g, item.name));
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
  private update(p: tf.Variable, g: tf.Tensor, name: string): tf.Tensor {
    const o = this.spec;
    const lr = o.learningRate;
    const t = this.step;
    switch (o.name) {
      case 'sgd':
        return p.sub(g.mul(lr));
      case 'momentum':
      case 'nesterov': {
        const b = this.slot(name, 'momentum', p);
        b.assign(b.mul(o.momentum).add(g));
        return o.name === 'nesterov' ? p.sub(g.add(b.mul(o.momentum)).mul(lr)) : p.sub(b.mul(lr));
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
      case 'adam': {
        const m = this.slot(name, 'expAvg', p);
        const v = this.slot(name, 'expAvgSq', p);
        m.assign(m.mul(o.beta1).add(g.mul(1 - o.beta1)));
        v.assign(v.mul(o.beta2).add(g.square().mul(1 - o.beta2)));
        const bc1 = 1 - o.beta1 ** t;
        const bc2 = 1 - o.beta2 ** t;
        const denom = v.sqrt().div(Math.sqrt(bc2)).add(o.epsilon);
        return p.sub(m.div(denom).mul(lr / bc1));
      }
    }
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const out: NamedTensor[] = [{ name: 'iter', tensor: tf.scalar(this.step, 'int32') }];
    for (const varName of [...this.slots.keys()].sort()) {
      const s = this.slots.get(varName)!;
      for (const slot of Object.keys(s).sort()) out.push({ name: `${varName}/${slot}`, tensor: s[slot]! });
    }
    return out;
  }

  override async setWeights(weights: NamedTensor[]): Promise<void> {
    for (const { name, tensor } of weights) {
      if (name === 'iter') {
        this.step = (await tensor.data())[0]!;
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
    return { ...this.spec } as tf.serialization.ConfigDict;
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
