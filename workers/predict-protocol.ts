import type { PredictErrorCode } from '../src/queue/queues.js';

/** Messages between a worker and its predict process (over the fork IPC channel). */
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
