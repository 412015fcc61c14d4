import { z } from 'zod';

/**
 * The optimizer catalogue. Every rule follows PyTorch's torch.optim; defaults are
 * PyTorch's, except where a name implies a setting (momentum/nesterov default momentum to 0.9,
 * where torch's 0 would make them plain SGD).
 * Parameters an optimizer does not use are rejected rather than silently ignored.
 */
const lr = (def: number) => z.number().gt(0).default(def).describe('Learning rate (eta); the schedule scales it per epoch.');
const clipping = {
  clipNorm: z.number().gt(0).optional().describe('Rescale all gradients together so their global L2 norm is at most this.'),
  clipValue: z.number().gt(0).optional().describe('Clip every gradient element to [-clipValue, clipValue].'),
};
const common = {
  weightDecay: z.number().min(0).default(0).describe('L2 penalty added to the gradient: g <- g + weightDecay * w.'),
  ...clipping,
};
const beta = (def: number) => z.number().min(0).lt(1).default(def);
const epsilon = (def: number) => z.number().gt(0).default(def).describe('Term added for numerical stability.');

export const sgdSchema = z
  .strictObject({
    name: z.literal('sgd'),
    learningRate: lr(0.001),
    momentum: z.number().min(0).lt(1).default(0).describe('Momentum factor, as torch.optim.SGD (0: plain gradient descent).'),
    nesterov: z.boolean().default(false).describe('Nesterov momentum, as torch.optim.SGD(nesterov=True); needs momentum > 0.'),
    ...common,
  })
  .refine((o) => !o.nesterov || o.momentum > 0, { message: 'nesterov needs momentum > 0', path: ['nesterov'] });
export const momentumSchema = z.strictObject({
  name: z.literal('momentum'),
  learningRate: lr(0.001),
  momentum: z.number().min(0).lt(1).default(0.9).describe('Momentum factor (mu).'),
  ...common,
});
export const nesterovSchema = z.strictObject({
  name: z.literal('nesterov'),
  learningRate: lr(0.001),
  momentum: z.number().gt(0).lt(1).default(0.9).describe('Momentum factor (mu).'),
  ...common,
});
export const adagradSchema = z.strictObject({
  name: z.literal('adagrad'),
  learningRate: lr(0.01),
  initialAccumulatorValue: z.number().min(0).default(0).describe('Starting value of the sum of squared gradients.'),
  epsilon: epsilon(1e-10),
  ...common,
});
export const adadeltaSchema = z.strictObject({
  name: z.literal('adadelta'),
  learningRate: lr(1.0),
  rho: beta(0.9).describe('Decay of the running averages.'),
  epsilon: epsilon(1e-6),
  ...common,
});
export const rmspropSchema = z.strictObject({
  name: z.literal('rmsprop'),
  learningRate: lr(0.01),
  rho: beta(0.99).describe('Smoothing constant of the squared-gradient average (PyTorch `alpha`).'),
  epsilon: epsilon(1e-8),
  momentum: z.number().min(0).lt(1).default(0).describe('Momentum factor.'),
  centered: z.boolean().default(false).describe('Normalise by the estimated variance of the gradient.'),
  ...common,
});
const adamFamily = {
  beta1: beta(0.9).describe('Decay of the first-moment estimate.'),
  beta2: beta(0.999).describe('Decay of the second-moment estimate.'),
  epsilon: epsilon(1e-8),
};
export const adamSchema = z.strictObject({ name: z.literal('adam'), learningRate: lr(0.001), ...adamFamily, ...common });
export const amsgradSchema = z.strictObject({ name: z.literal('amsgrad'), learningRate: lr(0.001), ...adamFamily, ...common });
export const adamaxSchema = z.strictObject({ name: z.literal('adamax'), learningRate: lr(0.002), ...adamFamily, ...common });
export const adamwSchema = z.strictObject({
  name: z.literal('adamw'),
  learningRate: lr(0.001),
  ...adamFamily,
  weightDecay: z.number().min(0).default(0.01).describe('Decoupled decay: w <- w - learningRate * weightDecay * w before the Adam step.'),
  ...clipping,
});
export const nadamSchema = z.strictObject({
  name: z.literal('nadam'),
  learningRate: lr(0.002),
  ...adamFamily,
  momentumDecay: z.number().min(0).default(0.004).describe('psi in the momentum schedule mu_t = beta1 (1 - 0.5 * 0.96^(t psi)).'),
  ...common,
});
export const lionSchema = z.strictObject({
  name: z.literal('lion'),
  learningRate: lr(1e-4),
  beta1: beta(0.9).describe('Interpolation between momentum and gradient for the update direction.'),
  beta2: beta(0.99).describe('Decay of the momentum.'),
  weightDecay: z.number().min(0).default(0).describe('Decoupled decay: w <- w (1 - learningRate * weightDecay).'),
  ...clipping,
});

export const optimizerSchema = z
  .discriminatedUnion('name', [
    sgdSchema,
    momentumSchema,
    nesterovSchema,
    adagradSchema,
    adadeltaSchema,
    rmspropSchema,
    adamSchema,
    adamaxSchema,
    adamwSchema,
    amsgradSchema,
    nadamSchema,
    lionSchema,
  ])
  .describe('The optimizer and its hyperparameters.')
  .meta({ id: 'Optimizer' });

export type OptimizerSpec = z.infer<typeof optimizerSchema>;
export type OptimizerName = OptimizerSpec['name'];
export const OPTIMIZER_NAMES = optimizerSchema.options.map((o) => o.shape.name.value) as [OptimizerName, ...OptimizerName[]];

/** Optimizers whose weightDecay shrinks the weights directly instead of joining the gradient. */
export const DECOUPLED_DECAY: readonly OptimizerName[] = ['adamw', 'lion'];

/** Tensors of optimizer state kept per trainable weight (momentum buffers, moment estimates, ...). */
export function optimizerSlots(o: OptimizerSpec): number {
  switch (o.name) {
    case 'sgd':
    case 'momentum':
    case 'nesterov':
      return o.momentum > 0 ? 1 : 0;
    case 'adagrad':
    case 'lion':
      return 1;
    case 'adadelta':
    case 'adam':
    case 'adamw':
    case 'adamax':
    case 'nadam':
      return 2;
    case 'amsgrad':
      return 3;
    case 'rmsprop':
      return 1 + (o.centered ? 1 : 0) + (o.momentum > 0 ? 1 : 0);
  }
}
