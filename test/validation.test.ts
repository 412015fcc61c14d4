import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSpecInput } from '../src/spec/index.js';
import { type LayeredSpecInput, type Stack, startStack, testConfig, xorSpec } from './helpers.js';

type Details = { path: (string | number)[]; message: string }[];
const spec = xorSpec();
const layers = spec.model.layers;

/** Each case: a bad spec, and a path its 400 must name. */
const cases: [string, unknown, (string | number)[]][] = [
  ['an array instead of an object', [1, 2], []],
  ['missing dataset', { ...spec, dataset: undefined }, ['dataset']],
  ['missing model', { ...spec, model: undefined }, ['model']],
  ['unknown builtin dataset', { ...spec, dataset: { builtin: 'mnist-9000' } }, ['dataset', 'builtin']],
  ['two dataset kinds', { ...spec, dataset: { builtin: 'xor', inline: { x: [[0, 0]], y: [[0]] } } }, ['dataset', 'inline']],
  ['no dataset kind', { ...spec, dataset: {} }, ['dataset']],
  ['option foreign to the dataset', { ...spec, dataset: { builtin: 'xor', classes: 3 } }, ['dataset', 'classes']],
  ['negative samples', { ...spec, dataset: { builtin: 'moons', samples: -5 } }, ['dataset', 'samples']],
  ['ragged inline x', { ...spec, dataset: { inline: { x: [[0, 0], [1]], y: [[0], [1]] } } }, ['dataset', 'inline', 'x', 1]],
  [
    'inline x and y lengths differ',
    {
      ...spec,
      dataset: {
        inline: {
          x: [
            [0, 0],
            [1, 1],
          ],
          y: [[0]],
        },
      },
    },
    ['dataset', 'inline', 'y'],
  ],
  ['inline strings', { ...spec, dataset: { inline: { x: [['a', 'b']], y: [[0]] } } }, ['dataset', 'inline', 'x', 0]],
  [
    'an inline input float32 cannot hold',
    {
      ...spec,
      dataset: {
        inline: {
          x: [
            [0, 0],
            [1e300, 1],
          ],
          y: [[0], [1]],
        },
      },
    },
    ['dataset', 'inline', 'x', 1],
  ],
  [
    'an inline target float32 cannot hold',
    {
      ...spec,
      dataset: {
        inline: {
          x: [
            [0, 0],
            [1, 1],
          ],
          y: [[0], [-1e39]],
        },
      },
    },
    ['dataset', 'inline', 'y', 1],
  ],
  ['empty layers', { ...spec, model: { inputShape: [2], layers: [] } }, ['model', 'layers']],
  ['unknown layer type', { ...spec, model: { inputShape: [2], layers: [{ type: 'quantum', units: 3 }] } }, ['model', 'layers', 0, 'type']],
  ['zero units', { ...spec, model: { inputShape: [2], layers: [{ type: 'dense', units: 0 }] } }, ['model', 'layers', 0, 'units']],
  ['fractional units', { ...spec, model: { inputShape: [2], layers: [{ type: 'dense', units: 1.5 }] } }, ['model', 'layers', 0, 'units']],
  [
    'unknown activation',
    { ...spec, model: { inputShape: [2], layers: [{ type: 'dense', units: 1, activation: 'sparkle' }] } },
    ['model', 'layers', 0, 'activation'],
  ],
  [
    'unknown initializer',
    { ...spec, model: { inputShape: [2], layers: [{ type: 'dense', units: 1, kernelInitializer: 'lucky' }] } },
    ['model', 'layers', 0, 'kernelInitializer'],
  ],
  ['dropout rate 1', { ...spec, model: { inputShape: [2], layers: [{ type: 'dropout', rate: 1 }, layers[1]] } }, ['model', 'layers', 0, 'rate']],
  [
    'negative l2',
    { ...spec, model: { inputShape: [2], layers: [{ type: 'dense', units: 1, kernelRegularizer: { l2: -1 } }] } },
    ['model', 'layers', 0, 'kernelRegularizer', 'l2'],
  ],
  ['unknown layer option', { ...spec, model: { inputShape: [2], layers: [{ type: 'dense', units: 1, colour: 'red' }] } }, ['model', 'layers', 0]],
  ['empty input shape', { ...spec, model: { inputShape: [], layers } }, ['model', 'inputShape']],
  ['input shape does not match the data', { ...spec, model: { inputShape: [3], layers } }, ['model', 'inputShape']],
  [
    'output units do not match the targets',
    { ...spec, model: { inputShape: [2], layers: [layers[0], { type: 'dense', units: 2 }] } },
    ['model', 'layers', 1, 'units'],
  ],
  ['unknown loss', { ...spec, loss: 'vibes' }, ['loss']],
  ['unknown metric', { ...spec, metrics: ['happiness'] }, ['metrics', 0]],
  ['unknown optimizer', { ...spec, optimizer: { name: 'magic' } }, ['optimizer', 'name']],
  ['negative learning rate', { ...spec, optimizer: { name: 'sgd', learningRate: -0.1 } }, ['optimizer', 'learningRate']],
  ['parameter foreign to the optimizer', { ...spec, optimizer: { name: 'sgd', learningRate: 0.1, beta1: 0.9 } }, ['optimizer']],
  ['momentum of 1', { ...spec, optimizer: { name: 'momentum', momentum: 1 } }, ['optimizer', 'momentum']],
  ['adam beta2 above 1', { ...spec, optimizer: { name: 'adam', beta2: 1.5 } }, ['optimizer', 'beta2']],
  ['zero epochs', { ...spec, training: { epochs: 0 } }, ['training', 'epochs']],
  ['batch size "half"', { ...spec, training: { epochs: 1, batchSize: 'half' } }, ['training', 'batchSize']],
  ['validation split 1', { ...spec, training: { epochs: 1, validationSplit: 1 } }, ['training', 'validationSplit']],
  ['validation split leaving no data', { ...spec, training: { epochs: 1, validationSplit: 0.1 } }, ['training', 'validationSplit']],
  ['shuffle as a string', { ...spec, training: { epochs: 1, shuffle: 'yes' } }, ['training', 'shuffle']],
  ['unknown top-level field', { ...spec, colour: 'blue' }, []],
  [
    'early stopping on an unreported metric',
    { ...spec, training: { epochs: 5, earlyStopping: { monitor: 'val_loss' } } },
    ['training', 'earlyStopping', 'monitor'],
  ],
  ['unknown schedule type', { ...spec, training: { epochs: 5, lrSchedule: { type: 'zigzag' } } }, ['training', 'lrSchedule', 'type']],
  ['step schedule without stepSize', { ...spec, training: { epochs: 5, lrSchedule: { type: 'step' } } }, ['training', 'lrSchedule', 'stepSize']],
  ['lion with epsilon', { ...spec, optimizer: { name: 'lion', epsilon: 1e-8 } }, ['optimizer']],
  ['uploaded dataset that does not exist', { ...spec, dataset: { id: 'ds_missing' } }, ['dataset', 'id']],
  ['more mnist digits than exist', { ...spec, dataset: { builtin: 'mnist', samples: 20_000 } }, ['dataset', 'samples']],
  ['mnist offset past its digits', { ...spec, dataset: { builtin: 'mnist', offset: 9_990, samples: 20 } }, ['dataset', 'samples']],
  ['unknown mnist shape', { ...spec, dataset: { builtin: 'mnist', shape: 'square' } }, ['dataset', 'shape']],
  ['timesteps on a dataset without them', { ...spec, dataset: { builtin: 'xor', timesteps: 5 } }, ['dataset', 'timesteps']],
  ['one timestep', { ...spec, dataset: { builtin: 'sine-sequence', timesteps: 1 } }, ['dataset', 'timesteps']],
  ['sequence data into a dense input', { ...spec, dataset: { builtin: 'airline-like' } }, ['model', 'inputShape']],
  [
    'holdout and validationSplit together',
    { ...spec, training: { epochs: 1, validationSplit: 0.5, validationData: { builtin: 'xor' } } },
    ['training', 'validationData'],
  ],
  [
    'holdout shaped unlike the training data',
    { ...spec, training: { epochs: 1, validationData: { builtin: 'blobs', features: 3 } } },
    ['training', 'validationData'],
  ],
  ['invalid holdout', { ...spec, training: { epochs: 1, validationData: { builtin: 'xor', classes: 3 } } }, ['training', 'validationData', 'classes']],
  ['unknown input scaling', { ...spec, preprocessing: { inputs: 'zscore' } }, ['preprocessing', 'inputs']],
  [
    'one-hot of one-hot labels',
    { ...spec, dataset: { builtin: 'blobs' }, model: { inputShape: [2], layers: [{ type: 'dense', units: 3 }] }, preprocessing: { labels: 'onehot' } },
    ['preprocessing', 'labels'],
  ],
  ['classes without one-hot labels', { ...spec, preprocessing: { inputs: 'minmax', classes: 3 } }, ['preprocessing', 'classes']],
  ['index of index labels', { ...spec, preprocessing: { labels: 'index' } }, ['preprocessing', 'labels']],
  [
    'one-hot of real-valued targets',
    {
      ...spec,
      dataset: { inline: { x: [[0], [1]], y: [[0.5], [1]] } },
      model: { inputShape: [1], layers: [{ type: 'dense', units: 2 }] },
      preprocessing: { labels: 'onehot' },
    },
    ['preprocessing', 'labels'],
  ],
  [
    'scaled inputs into an embedding',
    {
      ...spec,
      dataset: {
        inline: {
          x: [
            [1, 2],
            [3, 4],
          ],
          y: [[0], [1]],
        },
      },
      model: { inputShape: [2], layers: [{ type: 'embedding', inputDim: 5, outputDim: 2 }, { type: 'flatten' }, { type: 'dense', units: 1 }] },
      preprocessing: { inputs: 'standardize' },
    },
    ['preprocessing', 'inputs'],
  ],
  [
    'one-hot of a regression dataset',
    { ...spec, dataset: { builtin: 'sine' }, model: { inputShape: [1], layers: [{ type: 'dense', units: 2 }] }, preprocessing: { labels: 'onehot' } },
    ['preprocessing', 'labels'],
  ],
  [
    'a holdout with a class the training data lacks',
    {
      ...spec,
      dataset: { inline: { x: [[0], [1]], y: [[0], [1]] } },
      model: { inputShape: [1], layers: [{ type: 'dense', units: 2, activation: 'softmax' }] },
      preprocessing: { labels: 'onehot' },
      training: { validationData: { inline: { x: [[2]], y: [[2]] } } },
    },
    ['training', 'validationData', 'inline', 'y'],
  ],
  [
    'output units unlike the one-hot width',
    {
      ...spec,
      dataset: { builtin: 'iris', labels: 'index' },
      model: { inputShape: [4], layers: [{ type: 'dense', units: 2 }] },
      preprocessing: { labels: 'onehot' },
    },
    ['model', 'layers', 0, 'units'],
  ],
  [
    'alpha on an activation other than leakyRelu (it would be ignored)',
    { ...spec, model: { inputShape: [2], layers: [{ type: 'dense', units: 4 }, { type: 'activation', activation: 'elu', alpha: 0.1 }, layers[1]] } },
    ['model', 'layers', 1, 'alpha'],
  ],
  [
    'alpha on an activation other than leakyRelu, inside timeDistributed',
    {
      ...spec,
      dataset: { builtin: 'sine-sequence' },
      loss: 'meanSquaredError',
      model: {
        inputShape: [20, 1],
        layers: [{ type: 'timeDistributed', layer: { type: 'activation', activation: 'relu', alpha: 0.1 } }, { type: 'flatten' }, { type: 'dense', units: 1 }],
      },
    },
    ['model', 'layers', 0, 'layer', 'alpha'],
  ],
  [
    'sparse labels that are not class indices',
    {
      ...spec,
      dataset: { inline: { x: [[0], [1]], y: [[0.5], [1]] } },
      loss: 'sparseCategoricalCrossentropy',
      model: { inputShape: [1], layers: [{ type: 'dense', units: 2, activation: 'softmax' }] },
    },
    ['dataset', 'inline', 'y'],
  ],
  [
    'output units unlike the classes of inline sparse labels',
    {
      ...spec,
      dataset: { inline: { x: [[0], [1], [2]], y: [[0], [2], [1]] } },
      loss: 'sparseCategoricalCrossentropy',
      model: { inputShape: [1], layers: [{ type: 'dense', units: 2, activation: 'softmax' }] },
    },
    ['model', 'layers', 0, 'units'],
  ],
  [
    'early stopping on val_loss without validation data',
    { ...spec, preprocessing: { inputs: 'standardize' }, training: { epochs: 5, earlyStopping: { monitor: 'val_accuracy' } } },
    ['training', 'earlyStopping', 'monitor'],
  ],
];

describe('spec validation', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(async () => stack.close());

  it.each(cases)('%s -> 400 naming the path', async (_name, body, path) => {
    const res = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: body as object });
    expect(res.statusCode).toBe(400);
    const error = res.json<{ error: { code: string; message: string; details: Details } }>().error;
    expect(error.code).toBe('invalid_spec');
    expect(error.details.map((d) => d.path)).toContainEqual(path);
    for (const d of error.details) expect(d.message.length).toBeGreaterThan(0);
  });

  it('lists every offending path at once', async () => {
    const bad = { ...spec, loss: 'vibes', optimizer: { name: 'sgd', learningRate: 0 }, training: { epochs: -1 } };
    const res = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: bad });
    const paths = res.json<{ error: { details: Details } }>().error.details.map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining([['loss'], ['optimizer', 'learningRate'], ['training', 'epochs']]));
  });

  it('answers malformed JSON with a 400, not a 5xx', async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'content-type': 'application/json' },
      payload: '{"dataset": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('invalid_json');
  });

  it('answers unknown ids with 404 on every job route', async () => {
    const id = 'no-such-job';
    const routes: [string, string, object?][] = [
      ['GET', `/v1/jobs/${id}`],
      ['POST', `/v1/jobs/${id}/cancel`],
      ['POST', `/v1/jobs/${id}/predict`, { inputs: [[0, 0]] }],
      ['GET', `/v1/jobs/${id}/events`],
      ['GET', `/v1/jobs/${id}/model`],
      ['GET', `/v1/jobs/${id}/model/weights.bin`],
      ['GET', '/v1/nothing-here'],
    ];
    for (const [method, url, payload] of routes) {
      const res = await stack.app.inject({ method: method as 'GET' | 'POST', url, ...(payload ? { payload } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json<{ error: { code: string } }>().error.code).toBe('not_found');
    }
  });

  it('rejects a bad Last-Event-ID with 400', async () => {
    const id = (await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec() })).json<{ id: string }>().id;
    for (const bad of ['yesterday', '1-2-3', '18446744073709551616-0', '0-18446744073709551616', '99999999999999999999-0']) {
      const res = await stack.app.inject({ url: `/v1/jobs/${id}/events`, headers: { 'last-event-id': bad } });
      expect([bad, res.statusCode, res.json<{ error: { code: string } }>().error.code]).toEqual([bad, 400, 'invalid_event_id']);
    }
  });
});

describe('configured limits', () => {
  let stack: Stack;
  beforeAll(async () => {
    const config = testConfig({ MAX_EPOCHS: '50', MAX_UNITS: '16', MAX_LAYERS: '3', MAX_INLINE_SAMPLES: '3', MAX_BUILTIN_SAMPLES: '500' });
    stack = await startStack({ worker: false, config });
  });
  afterAll(async () => stack.close());

  const small = (o: Partial<LayeredSpecInput>) => xorSpec({ training: { epochs: 10 }, ...o });
  const limited: [string, JobSpecInput, string, (string | number)[]][] = [
    ['epochs', xorSpec({ training: { epochs: 51 } }), 'MAX_EPOCHS', ['training', 'epochs']],
    ['units', small({ model: { inputShape: [2], layers: [{ type: 'dense', units: 17 }, layers[1]!] } }), 'MAX_UNITS', ['model', 'layers', 0, 'units']],
    ['layers', small({ model: { inputShape: [2], layers: [layers[0]!, layers[0]!, layers[0]!, layers[1]!] } }), 'MAX_LAYERS', ['model', 'layers']],
    [
      'inline samples',
      small({
        dataset: {
          inline: {
            x: [
              [0, 0],
              [0, 1],
              [1, 0],
              [1, 1],
            ],
            y: [[0], [1], [1], [0]],
          },
        },
      }),
      'MAX_INLINE_SAMPLES',
      ['dataset', 'inline', 'x'],
    ],
    ['generated samples', small({ dataset: { builtin: 'xor', samples: 501 } }), 'MAX_BUILTIN_SAMPLES', ['dataset', 'samples']],
    [
      'holdout samples',
      small({ training: { epochs: 10, validationData: { builtin: 'xor', samples: 501 } } }),
      'MAX_BUILTIN_SAMPLES',
      ['training', 'validationData', 'samples'],
    ],
  ];

  it.each(limited)('too many %s -> 422 naming the limit', async (_name, body, limit, path) => {
    const res = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: body });
    expect(res.statusCode).toBe(422);
    const error = res.json<{ error: { code: string; message: string; details: { limit: string; path: unknown[] }[] } }>().error;
    expect(error.code).toBe('limit_exceeded');
    expect(error.message).toContain(limit);
    expect(error.details[0]).toMatchObject({ limit, path });
  });
});
