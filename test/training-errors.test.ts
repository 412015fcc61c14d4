import { beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedJobSpec } from '../src/spec/index.js';
import { DatasetError, DatasetNotFoundError, DivergedError, InvalidModelError, TrainingAbortedError, trainingErrorOf } from '../src/training/errors.js';
import { train } from '../src/training/train.js';
import { initTestBackend, resolveSpec, xorSpec } from './helpers.js';

describe('training errors carry their codes', () => {
  beforeAll(async () => {
    await initTestBackend();
  });

  it('each engine error names its code; anything else is a training_error', () => {
    expect(trainingErrorOf(new InvalidModelError('m'))).toEqual({ code: 'invalid_model', message: 'm' });
    expect(trainingErrorOf(new DivergedError('d'))).toEqual({ code: 'diverged', message: 'd' });
    expect(trainingErrorOf(new DatasetError('x'))).toEqual({ code: 'dataset_unavailable', message: 'x' });
    expect(trainingErrorOf(new DatasetNotFoundError('gone'))).toEqual({ code: 'dataset_not_found', message: 'gone' });
    expect(trainingErrorOf(new TrainingAbortedError()).code).toBe('aborted');
    // A message that reads like a model problem is still only what its class says.
    expect(trainingErrorOf(new Error('incompatible shape, rank and dimension expected'))).toEqual({
      code: 'training_error',
      message: 'incompatible shape, rank and dimension expected',
    });
    expect(trainingErrorOf('thrown text')).toEqual({ code: 'training_error', message: 'thrown text' });
  });

  it('a model whose output cannot meet the labels fails as invalid_model when training starts', async () => {
    const ok = resolveSpec(xorSpec({ training: { epochs: 2, batchSize: 4, seed: 1 } }));
    // Past the API's checks: three outputs against one label per sample.
    const bad: ResolvedJobSpec = {
      ...ok,
      model: {
        ...ok.model,
        layers: [
          { type: 'dense', units: 4, activation: 'tanh' },
          { type: 'dense', units: 3, activation: 'sigmoid' },
        ],
      } as ResolvedJobSpec['model'],
    };
    const err = await train(bad).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidModelError);
    expect(trainingErrorOf(err).code).toBe('invalid_model');
  });
});
