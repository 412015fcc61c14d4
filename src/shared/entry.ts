import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Locates a sibling entry module for `child_process.fork`: the compiled `.js` in production,
 * or the `.ts` source (run through tsx) under `npm run dev` and the tests.
 */
export function resolveEntry(fromUrl: string, relative: string): { path: string; execArgv: string[] } {
  const self = fileURLToPath(fromUrl);
  const ext = self.endsWith('.ts') ? '.ts' : '.js';
  const path = fileURLToPath(new URL(relative + ext, fromUrl));
  if (!existsSync(path)) throw new Error(`entry module not found: ${path}`);
  return { path, execArgv: ext === '.ts' ? ['--import', 'tsx'] : [] };
}
