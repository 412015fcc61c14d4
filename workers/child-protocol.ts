import type { BackendName } from '../src/training/backend.js';
import type { EpochReport } from '../src/spec/index.js';
import type { TrainingErrorCode } from '../src/training/errors.js';
import type { EngineRun, PreprocessingState, ResolvedJobSpec, StoppedBy, StoppedEarly } from '../src/spec/index.js';
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
      /** An experiment trial: after each epoch, wait for the worker's verdict (its scheduler may stop it there). */
      gated?: boolean;
    }
  | { type: 'cancel' }
  /** The experiment's decision about a gated trial's epoch: `stopBy` ends training there. */
  | { type: 'verdict'; epoch: number; stopBy?: StoppedBy };

export type ChildMessage =
  | { type: 'started'; backend: BackendName; versions: Record<string, string>; fallbackReason?: string }
  | { type: 'engine'; engine: EngineRun }
  | { type: 'epoch'; report: EpochReport; checkpoint?: number }
  | { type: 'done'; numTensors: number; engine?: EngineRun; stoppedEarly?: StoppedEarly; stoppedBy?: StoppedBy; preprocessing?: PreprocessingState }
  /**
   * Training threw: the engine's error code (never to be read from the message). Whether another
   * attempt may succeed follows from the code alone (see decideOutcome), so no flag travels with it.
   */
  | { type: 'failed'; code: TrainingErrorCode; message: string };
