import { z } from 'zod';

/**
 * The tfjs backends a worker trains with: `tensorflow` (native, @tensorflow/tfjs-node) or `cpu`
 * (pure JavaScript, the fallback when the native one does not load). No other backend is built in.
 */
export const BACKEND_NAMES = ['tensorflow', 'cpu'] as const;
export const backendNameSchema = z.enum(BACKEND_NAMES).describe('tfjs backend: tensorflow (native) or cpu (pure JavaScript).');
export type BackendName = z.infer<typeof backendNameSchema>;
