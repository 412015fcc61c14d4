import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function files(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Every module a file imports: project files as repo-relative paths, packages by name. */
function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => (s.startsWith('.') ? relative(root, resolve(root, dirname(file), s)) : s));
}

/** Layer -> what it must never import (path prefixes of the repo, or package names). */
const forbidden: Record<string, string[]> = {
  'src/spec': ['src/api', 'src/queue', 'src/training', 'src/storage', 'src/cli', 'workers', '@tensorflow', 'fastify', 'bullmq', 'ioredis'],
  'src/config': ['src/', 'workers', '@tensorflow', 'fastify', 'bullmq', 'ioredis'],
  'src/shared': ['src/api', 'src/queue', 'src/training', 'workers', '@tensorflow', 'fastify', 'bullmq'],
  'src/queue': ['src/api', 'src/training', 'src/cli', 'workers', '@tensorflow', 'fastify'],
  'src/api': ['src/training', 'src/cli', 'workers', '@tensorflow'],
  'src/training': ['src/api', 'src/queue', 'src/cli', 'workers', 'fastify', 'bullmq', 'ioredis'],
  'src/datasets': ['src/api', 'src/queue', 'src/training', 'src/cli', 'workers', '@tensorflow', 'fastify', 'bullmq', 'ioredis'],
  'src/storage': ['src/api', 'src/queue', 'src/training', 'workers', '@tensorflow', 'fastify', 'bullmq'],
  workers: ['src/api', 'fastify'],
};

describe('module boundaries', () => {
  for (const [layer, banned] of Object.entries(forbidden)) {
    it(`${layer} imports none of: ${banned.join(', ')}`, () => {
      const violations = files(layer).flatMap((file) =>
        imports(file)
          .filter((i) => banned.some((b) => i === b || i.startsWith(b.endsWith('/') ? b : `${b}/`) || i.startsWith(`${b}-`)))
          .map((i) => `${file} -> ${i}`),
      );
      expect(violations).toEqual([]);
    });
  }

  it('finds the imports it checks (the scan itself works)', () => {
    expect(imports('src/api/app.ts')).toContain('fastify');
    expect(imports('workers/training-runner.ts')).toContain('src/queue/job-store.js');
  });
});
