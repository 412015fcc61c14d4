import { z } from 'zod';
import { type JsonProperty, type OptionInfo, intervalText, optionInfo, optionInfoSchema, optionRow } from './option-info.js';
import { type OptimizerName, DECOUPLED_DECAY, OPTIMIZER_NAMES, optimizerSchema } from '../spec/optimizers.js';

/** An entry of GET /v1/optimizers and docs/optimizers.md. */
export const optimizerInfoSchema = z
  .object({
    name: z.enum(OPTIMIZER_NAMES),
    title: z.string(),
    rule: z.string().describe('The update rule in LaTeX; g_t is the gradient at step t (t counts from 1).'),
    when: z.string().describe('When to use it, in one sentence.'),
    reference: z.string().describe('The PyTorch equivalent.'),
    weightDecay: z.enum(['coupled', 'decoupled']),
    parameters: z.array(optionInfoSchema),
  })
  .meta({ id: 'OptimizerInfo' });
export type OptimizerInfo = z.infer<typeof optimizerInfoSchema>;
export const optimizerCatalogSchema = z.object({ items: z.array(optimizerInfoSchema) });

type OptimizerDoc = Pick<OptimizerInfo, 'title' | 'rule' | 'when' | 'reference'>;

const G = 'g_t = \\nabla_w L(w_{t-1}) + \\lambda w_{t-1}';

/** One entry per optimizer: the source of GET /v1/optimizers and docs/optimizers.md. */
export const OPTIMIZER_DOCS: Record<OptimizerName, OptimizerDoc> = {
  sgd: {
    title: 'Gradient descent (batch, mini-batch, stochastic)',
    rule: `${G}; \\quad w_t = w_{t-1} - \\eta\\, g_t`,
    when: 'The baseline: with training.batchSize "full" it is batch gradient descent, 1 is stochastic, anything else mini-batch; tune the learning rate first.',
    reference: 'torch.optim.SGD(lr, momentum=0, weight_decay)',
  },
  momentum: {
    title: 'SGD with momentum',
    rule: `${G}; \\quad b_t = \\mu b_{t-1} + g_t; \\quad w_t = w_{t-1} - \\eta\\, b_t`,
    when: 'Plain SGD that crawls through ravines or oscillates across them; momentum averages the direction and speeds it up.',
    reference: 'torch.optim.SGD(lr, momentum, nesterov=False, weight_decay)',
  },
  nesterov: {
    title: 'Nesterov accelerated gradient (NAG)',
    rule: `${G}; \\quad b_t = \\mu b_{t-1} + g_t; \\quad w_t = w_{t-1} - \\eta\\,(g_t + \\mu b_t)`,
    when: 'Like momentum but looks ahead, so it overshoots less; a strong default for SGD-style training of CNNs.',
    reference: 'torch.optim.SGD(lr, momentum, nesterov=True, weight_decay)',
  },
  adagrad: {
    title: 'Adagrad',
    rule: `${G}; \\quad s_t = s_{t-1} + g_t^2 \\; (s_0 = \\text{initialAccumulatorValue}); \\quad w_t = w_{t-1} - \\eta\\, \\frac{g_t}{\\sqrt{s_t} + \\epsilon}`,
    when: 'Sparse features or rarely active units: per-weight rates shrink with the gradients seen so far (and never grow back).',
    reference: 'torch.optim.Adagrad(lr, lr_decay=0, weight_decay, initial_accumulator_value, eps)',
  },
  adadelta: {
    title: 'AdaDelta',
    rule: `${G}; \\quad v_t = \\rho v_{t-1} + (1-\\rho) g_t^2; \\quad \\Delta_t = \\frac{\\sqrt{u_{t-1} + \\epsilon}}{\\sqrt{v_t + \\epsilon}}\\, g_t; \\quad u_t = \\rho u_{t-1} + (1-\\rho)\\Delta_t^2; \\quad w_t = w_{t-1} - \\eta\\, \\Delta_t`,
    when: "Adagrad without the ever-shrinking rate and with little learning-rate tuning (PyTorch's learningRate 1.0 is the usual choice).",
    reference: 'torch.optim.Adadelta(lr, rho, eps, weight_decay)',
  },
  rmsprop: {
    title: 'RMSProp',
    rule: `${G}; \\quad v_t = \\alpha v_{t-1} + (1-\\alpha) g_t^2; \\quad \\bar g_t = \\alpha \\bar g_{t-1} + (1-\\alpha) g_t \\text{ (centered)}; \\quad d_t = \\sqrt{v_t \\,[- \\bar g_t^2]} + \\epsilon; \\quad b_t = \\mu b_{t-1} + g_t / d_t; \\quad w_t = w_{t-1} - \\eta\\, b_t \\;(\\mu = 0:\\; w_t = w_{t-1} - \\eta\\, g_t / d_t)`,
    when: 'Non-stationary objectives and recurrent networks: a moving average of squared gradients keeps per-weight rates adaptive.',
    reference: 'torch.optim.RMSprop(lr, alpha=rho, eps, weight_decay, momentum, centered)',
  },
  adam: {
    title: 'Adam',
    rule: `${G}; \\quad m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t; \\quad v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2; \\quad w_t = w_{t-1} - \\frac{\\eta}{1-\\beta_1^t} \\frac{m_t}{\\sqrt{v_t}/\\sqrt{1-\\beta_2^t} + \\epsilon}`,
    when: 'The general-purpose default: momentum plus RMSProp-style scaling with bias correction; start here with learningRate 1e-3.',
    reference: 'torch.optim.Adam(lr, betas, eps, weight_decay, amsgrad=False)',
  },
  adamax: {
    title: 'Adamax',
    rule: `${G}; \\quad m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t; \\quad u_t = \\max(\\beta_2 u_{t-1}, |g_t| + \\epsilon); \\quad w_t = w_{t-1} - \\frac{\\eta}{1-\\beta_1^t} \\frac{m_t}{u_t}`,
    when: 'Adam with an infinity norm: steadier steps when gradients have rare large outliers (e.g. embeddings).',
    reference: 'torch.optim.Adamax(lr, betas, eps, weight_decay)',
  },
  adamw: {
    title: 'AdamW (decoupled weight decay)',
    rule: `g_t = \\nabla_w L(w_{t-1}); \\quad w' = w_{t-1}(1 - \\eta\\lambda); \\quad m_t, v_t \\text{ as Adam}; \\quad w_t = w' - \\frac{\\eta}{1-\\beta_1^t} \\frac{m_t}{\\sqrt{v_t}/\\sqrt{1-\\beta_2^t} + \\epsilon}`,
    when: 'Adam when you want real regularisation: the decay shrinks weights directly instead of being rescaled away by the adaptive denominator.',
    reference: 'torch.optim.AdamW(lr, betas, eps, weight_decay)',
  },
  amsgrad: {
    title: 'AMSGrad',
    rule: `${G}; \\quad m_t, v_t \\text{ as Adam}; \\quad \\hat v_t = \\max(\\hat v_{t-1}, v_t); \\quad w_t = w_{t-1} - \\frac{\\eta}{1-\\beta_1^t} \\frac{m_t}{\\sqrt{\\hat v_t}/\\sqrt{1-\\beta_2^t} + \\epsilon}`,
    when: 'Adam that never lets the effective rate grow again: try it when Adam diverges late in training.',
    reference: 'torch.optim.Adam(lr, betas, eps, weight_decay, amsgrad=True)',
  },
  nadam: {
    title: 'NAdam (Nesterov Adam)',
    rule: `${G}; \\quad \\mu_t = \\beta_1\\left(1 - \\tfrac12 0.96^{t\\psi}\\right); \\quad m_t, v_t \\text{ as Adam}; \\quad d_t = \\sqrt{v_t/(1-\\beta_2^t)} + \\epsilon; \\quad w_t = w_{t-1} - \\eta\\frac{1-\\mu_t}{1-\\prod_{i\\le t}\\mu_i}\\frac{g_t}{d_t} - \\eta\\frac{\\mu_{t+1}}{1-\\prod_{i\\le t+1}\\mu_i}\\frac{m_t}{d_t}`,
    when: 'Adam with Nesterov look-ahead momentum: often converges a little faster than Adam at the same rate.',
    reference: 'torch.optim.NAdam(lr, betas, eps, weight_decay, momentum_decay)',
  },
  lion: {
    title: 'Lion (evolved sign momentum)',
    rule: `g_t = \\nabla_w L(w_{t-1}); \\quad w_t = w_{t-1}(1-\\eta\\lambda) - \\eta\\, \\operatorname{sign}(\\beta_1 m_{t-1} + (1-\\beta_1) g_t); \\quad m_t = \\beta_2 m_{t-1} + (1-\\beta_2) g_t`,
    when: 'Memory-light alternative to AdamW (one state slot, sign updates); use a learning rate 3-10x smaller than AdamW.',
    reference: 'Chen et al. 2023, as lucidrains/lion-pytorch (not in torch.optim)',
  },
};

/** Every optimizer with its parameters, defaults and valid ranges, read off the zod schemas. */
export function optimizerCatalog(): OptimizerInfo[] {
  return optimizerSchema.options.map((schema) => {
    const name = schema.shape.name.value;
    const json = z.toJSONSchema(schema, { io: 'input' }) as { properties: Record<string, JsonProperty> };
    const parameters = Object.entries(json.properties)
      .filter(([key]) => key !== 'name')
      .map(([key, p]) => optionInfo(key, p));
    return {
      name,
      ...OPTIMIZER_DOCS[name],
      weightDecay: DECOUPLED_DECAY.includes(name) ? ('decoupled' as const) : ('coupled' as const),
      parameters,
    };
  });
}

const range = (p: OptionInfo): string => (p.type === 'boolean' ? 'true / false' : intervalText(p));

/** docs/optimizers.md, rendered from the catalogue (a test keeps the committed file equal). */
export function optimizerCatalogMarkdown(): string {
  const out = [
    '# Optimizers',
    '',
    '<!-- Generated from src/catalog/optimizer-catalog.ts by `npm run docs`; edit there. -->',
    '',
    "Every rule follows PyTorch's `torch.optim` and is checked step by step against PyTorch",
    '(`test/optimizers.test.ts`, fixtures from `scripts/reference/`). Notation: `w` weights, `g_t` the',
    'gradient at step `t` (from 1), `η` = `learningRate` (as the schedule sets it for the epoch),',
    '`λ` = `weightDecay`. Coupled weight decay adds `λw` to the gradient; decoupled decay (AdamW, Lion)',
    'shrinks the weights directly. `clipValue` then `clipNorm` (global L2 norm, as',
    '`torch.nn.utils.clip_grad_norm_`) apply to the raw gradients before the rule. The same content is',
    'served as JSON by `GET /v1/optimizers`.',
    '',
  ];
  for (const o of optimizerCatalog()) {
    out.push(`## \`${o.name}\`: ${o.title}`, '', o.when, '', '$$', o.rule, '$$', '', `Reference: ${o.reference}. Weight decay: ${o.weightDecay}.`, '');
    out.push('| parameter | default | range | meaning |', '|---|---|---|---|');
    for (const p of o.parameters) {
      out.push(optionRow(p, range(p)));
    }
    out.push('');
  }
  return out.join('\n');
}
