import type { BackendName } from '../src/training/backend.js';
import type { EpochReport } from '../src/spec/index.js';
import type { TrainingErrorCode } from '../src/training/errors.js';
import type { EngineRun, PreprocessingState, StoppedBy, StoppedEarly, StoredJobSpec } from '../src/spec/index.js';
import type { ArtifactStoreSettings } from '../src/storage/open-artifact-store.js';

/** Messages between a worker and its training child process (over the fork IPC channel). */
export type ParentMessage =
  | {
      type: 'train';
      jobId: string;
      /** Its inline data as references: the child reads the data from the artifact store. */
      spec: StoredJobSpec;
      /** How to open the artifact store (settings, not a path: the store may be remote). */
      store: ArtifactStoreSettings;
      checkpointEvery: number;
      checkpointMinIntervalMs: number;
      /** Continue from the checkpoint of this epoch. */
      resumeEpoch?: number;
      /**
       * An experiment trial its scheduler may stop: after this epoch, wait for the worker's verdict
       * (each verdict names the next such epoch); every other epoch trains on at once.
       */
      verdictAt?: number;
    }
  | { type: 'cancel' }
  /** The experiment's decision about the epoch a trial waits at: `stopBy` ends training there, `next` is where to wait again. */
  | { type: 'verdict'; epoch: number; stopBy?: StoppedBy; next?: number };

export type ChildMessage =
  | { type: 'started'; backend: BackendName; versions: Record<string, string>; fallbackReason?: string }
  | { type: 'engine'; engine: EngineRun }
  | { type: 'epoch'; report: EpochReport; checkpoint?: number }
  | {
      type: 'done';
      numTensors: number;
      engine?: EngineRun;
      stoppedEarly?: StoppedEarly;
      stoppedBy?: StoppedBy;
      preprocessing?: PreprocessingState;
      /** The process is clean (no tensor left over from the job) and waits for another job; otherwise it exits. */
      reusable?: boolean;
    }
  /**
   * Training threw: the engine's error code (never to be read from the message). Whether another
   * attempt may succeed follows from the code alone (see decideOutcome), so no flag travels with it.
   */
  | { type: 'failed'; code: TrainingErrorCode; message: string };
