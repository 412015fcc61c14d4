import type { BackendName } from '../src/training/backend.js';
import type { EpochReport, JobErrorCode } from '../src/spec/index.js';
import type { TrainResult } from '../src/training/train.js';
import type { PreprocessingState, ResolvedJobSpec } from '../src/spec/index.js';

/** Messages between a worker and its training child process (over the fork IPC channel). */
export type ParentMessage =
  | {
      type: 'train';
      jobId: string;
      spec: ResolvedJobSpec;
      dataDir: string;
      checkpointEvery: number;
      checkpointMinIntervalMs: number;
      /** Continue from the checkpoint of this epoch. */
      resumeEpoch?: number;
    }
  | { type: 'cancel' };

export type ChildMessage =
  | { type: 'started'; backend: BackendName; versions: Record<string, string>; fallbackReason?: string }
  | { type: 'epoch'; report: EpochReport; checkpoint?: number }
  | { type: 'done'; numTensors: number; stoppedEarly?: TrainResult['stoppedEarly']; preprocessing?: PreprocessingState }
  | { type: 'failed'; code: JobErrorCode; message: string; retryable: boolean };
