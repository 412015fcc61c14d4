import type { BackendName } from '../src/training/backend.js';
import type { EpochReport } from '../src/spec/index.js';
import type { TrainingErrorCode } from '../src/training/errors.js';
import type { EngineRun, PreprocessingState, ResolvedJobSpec, StoppedEarly } from '../src/spec/index.js';
import type { ArtifactStoreSettings } from '../src/storage/open-artifact-store.js';

/** Messages between a worker and its training child process (over the fork IPC channel). */
export type ParentMessage =
  | {
      type: 'train';
      jobId: string;
      spec: ResolvedJobSpec;
      /** How to open the artifact store (settings, not a path: the store may be remote). */
      store: ArtifactStoreSettings;
      checkpointEvery: number;
      checkpointMinIntervalMs: number;
      /** Continue from the checkpoint of this epoch. */
      resumeEpoch?: number;
    }
  | { type: 'cancel' };

export type ChildMessage =
  | { type: 'started'; backend: BackendName; versions: Record<string, string>; fallbackReason?: string }
  | { type: 'engine'; engine: EngineRun }
  | { type: 'epoch'; report: EpochReport; checkpoint?: number }
  | { type: 'done'; numTensors: number; engine?: EngineRun; stoppedEarly?: StoppedEarly; preprocessing?: PreprocessingState }
  /** Training threw: the engine's error code (never to be read from the message), and whether another attempt may succeed. */
  | { type: 'failed'; code: TrainingErrorCode; message: string; retryable: boolean };
