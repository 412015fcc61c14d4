import { afterAll } from 'vitest';
import { removeTempDirs } from './helpers.js';

// Runs after each test file's own afterAll hooks (hooks unwind as a stack), so stacks are closed
// before their data directories go.
afterAll(() => {
  removeTempDirs();
});
