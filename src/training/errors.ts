import type { JobErrorCode } from '../spec/index.js';

/**
 * Why training stopped, as a code that crosses the process boundary (the training child sends
 * it to the worker, which fails the job with it): never decided from message text.
 */
export type TrainingErrorCode =
  | Extract<
      JobErrorCode,
      'invalid_model' | 'diverged' | 'dataset_unavailable' | 'dataset_not_found' | 'engine_unavailable' | 'training_error' | 'storage_unavailable'
    >
  /** Training stopped because the worker asked it to (cancel, shutdown). */
  | 'aborted';

/** An error of the engine that knows its code. */
export abstract class TrainingError extends Error {
  abstract readonly code: TrainingErrorCode;
}

/** The model cannot be built, compiled, or trained on the data it was given. */
export class InvalidModelError extends TrainingError {
  readonly code = 'invalid_model';
}

/** A batch loss became NaN or infinite (training.terminateOnNaN). */
export class DivergedError extends TrainingError {
  readonly code = 'diverged';
}

/** The data cannot be loaded or does not fit what the spec says about it. */
export class DatasetError extends TrainingError {
  readonly code: TrainingErrorCode = 'dataset_unavailable';
}

/** The job names an uploaded dataset that no longer exists (deleted after the job was queued). */
export class DatasetNotFoundError extends DatasetError {
  override readonly code = 'dataset_not_found';
}

/**
 * The artifact store failed (a read or write of a checkpoint, a dataset or the model threw):
 * nothing about the job itself, so another attempt, resuming from the last checkpoint, may succeed.
 */
export class StorageUnavailableError extends TrainingError {
  readonly code = 'storage_unavailable';
}

export class TrainingAbortedError extends TrainingError {
  readonly code = 'aborted';
  constructor() {
    super('training was aborted');
  }
}

/** The code and message of anything training threw; an error without a code is a `training_error`. */
export function trainingErrorOf(err: unknown): { code: TrainingErrorCode; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  return { code: err instanceof TrainingError ? err.code : 'training_error', message };
}
