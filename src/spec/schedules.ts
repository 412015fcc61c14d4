import { z } from 'zod';

/**
 * Learning-rate schedules, stepped once per epoch as PyTorch's lr_scheduler classes are
 * (epoch e counts from 0; lr0 is optimizer.learningRate).
 */
export const lrScheduleSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('constant') }).describe('lr = lr0'),
    z
      .strictObject({
        type: z.literal('step'),
        stepSize: z.number().int().min(1).describe('Epochs between decays.'),
        gamma: z.number().gt(0).max(1).default(0.1),
      })
      .describe('StepLR: lr = lr0 * gamma^floor(e / stepSize)'),
    z.strictObject({ type: z.literal('exponential'), gamma: z.number().gt(0).max(1) }).describe('ExponentialLR: lr = lr0 * gamma^e'),
    z
      .strictObject({
        type: z.literal('cosine'),
        tMax: z.number().int().min(1).optional().describe('Epochs of one half cosine (default: the epochs after warm-up).'),
        etaMin: z.number().min(0).default(0),
      })
      .describe('CosineAnnealingLR: lr = etaMin + (lr0 - etaMin) (1 + cos(pi min(e, tMax) / tMax)) / 2'),
    z
      .strictObject({
        type: z.literal('cosineRestarts'),
        t0: z.number().int().min(1).describe('Epochs of the first cycle.'),
        tMult: z.number().int().min(1).default(1).describe('Each cycle is tMult times longer than the last.'),
        etaMin: z.number().min(0).default(0),
      })
      .describe('CosineAnnealingWarmRestarts (SGDR): cosine from lr0 to etaMin, restarting after t0, t0*tMult, ... epochs'),
    z
      .strictObject({
        type: z.literal('reduceOnPlateau'),
        monitor: z.string().default('loss').describe('Epoch metric to watch: loss, val_loss, accuracy, ...'),
        mode: z.enum(['min', 'max']).default('min'),
        factor: z.number().gt(0).lt(1).default(0.1),
        patience: z.number().int().min(0).default(10).describe('Epochs without improvement before the rate is cut.'),
        threshold: z.number().min(0).default(1e-4).describe('Relative improvement that counts (PyTorch threshold_mode rel).'),
        cooldown: z.number().int().min(0).default(0),
        minLr: z.number().min(0).default(0),
      })
      .describe('ReduceLROnPlateau: lr <- max(lr * factor, minLr) after `patience` epochs without improvement'),
  ])
  .describe('Learning-rate schedule, stepped per epoch.')
  .meta({ id: 'LrSchedule' });

export const warmupSchema = z
  .strictObject({
    epochs: z.number().int().min(1).describe('Warm-up length; the schedule starts after it.'),
    startFactor: z.number().gt(0).max(1).default(0.1).describe('lr starts at lr0 * startFactor.'),
  })
  .describe('Linear warm-up (LinearLR): lr = lr0 (startFactor + (1 - startFactor) e / epochs), then the schedule from its epoch 0.');

export const earlyStoppingSchema = z
  .strictObject({
    monitor: z.string().default('loss').describe('Epoch metric to watch: loss, val_loss, accuracy, val_accuracy, ...'),
    mode: z.enum(['min', 'max']).optional().describe('Default: `max` for accuracies, `min` for losses and errors.'),
    minDelta: z.number().min(0).default(0).describe('Smallest change that counts as an improvement.'),
    patience: z.number().int().min(0).default(5).describe('Epochs without improvement before training stops.'),
    restoreBestWeights: z.boolean().default(false).describe('End with the weights of the best epoch.'),
  })
  .describe('Stop when the monitored metric stops improving (Keras EarlyStopping).');

export type LrSchedule = z.infer<typeof lrScheduleSchema>;
export type Warmup = z.infer<typeof warmupSchema>;
export type EarlyStopping = z.infer<typeof earlyStoppingSchema>;
