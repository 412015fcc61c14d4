import type { PredictErrorCode } from '../src/queue/queues.js';
import type { ArtifactStoreSettings } from '../src/storage/open-artifact-store.js';

/** Messages between a worker and its predict process (over the fork IPC channel). */
export type PredictParentMessage = { type: 'init'; store: ArtifactStoreSettings } | PredictRequest;

export interface PredictRequest {
  type: 'predict';
  requestId: string;
  jobId: string;
  inputs: unknown[];
  maxOutputValues: number;
}

export type PredictResponse =
  | { type: 'ready' }
  | { type: 'result'; requestId: string; outputs: unknown[] }
  | { type: 'error'; requestId: string; code: PredictErrorCode; message: string; details?: unknown };
