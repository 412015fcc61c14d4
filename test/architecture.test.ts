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

/** Folders and packages that do I/O or run things: the pure layers (spec, planning, catalog) import none of them. */
const RUNTIME = [
  'src/api',
  'src/store',
  'src/queue',
  'src/training',
  'src/storage',
  'src/uploads',
  'src/cli',
  'workers',
  '@tensorflow',
  'fastify',
  'bullmq',
  'ioredis',
];

/** Layer -> what it must never import (path prefixes of the repo, or package names). */
const forbidden: Record<string, string[]> = {
  'src/spec': [...RUNTIME, 'src/planning', 'src/catalog'],
  'src/planning': [...RUNTIME, 'src/catalog'],
  'src/catalog': RUNTIME,
  'src/config': ['src/', 'workers', '@tensorflow', 'fastify', 'bullmq', 'ioredis'],
  'src/shared': ['src/api', 'src/store', 'src/queue', 'src/training', 'workers', '@tensorflow', 'fastify', 'bullmq'],
  'src/store': ['src/api', 'src/queue', 'src/training', 'src/uploads', 'src/cli', 'workers', '@tensorflow', 'fastify', 'bullmq'],
  'src/queue': ['src/api', 'src/training', 'src/cli', 'workers', '@tensorflow', 'fastify'],
  'src/api': ['src/training', 'src/cli', 'workers', '@tensorflow'],
  'src/training': ['src/api', 'src/store', 'src/queue', 'src/uploads', 'src/cli', 'workers', 'fastify', 'bullmq', 'ioredis'],
  'src/uploads': RUNTIME.filter((x) => x !== 'src/storage' && x !== 'src/uploads'),
  'src/storage': ['src/api', 'src/store', 'src/queue', 'src/training', 'src/uploads', 'workers', '@tensorflow', 'fastify', 'bullmq'],
  workers: ['src/api', 'fastify'],
};

/** Project files reachable from `file` by imports (type-only imports included: a cycle of types is a cycle too). */
function projectImports(file: string): string[] {
  return imports(file)
    .filter((i) => i.startsWith('src/') || i.startsWith('workers/'))
    .map((i) => i.replace(/\.js$/, '.ts'));
}

/** Every import cycle among the project's modules, each as the list of files it passes. */
function importCycles(): string[][] {
  const all = [...files('src'), ...files('workers')];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const next of projectImports(f)) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of all) if (!state.has(f)) visit(f);
  return cycles;
}

describe('module boundaries', () => {
  for (const [layer, banned] of Object.entries(forbidden)) {
    it(`${layer} imports none of: ${banned.join(', ')}`, () => {
      const violations = files(layer).flatMap((file) =>
        imports(file)
          .filter((i) => !i.startsWith(`${layer}/`))
          .filter((i) => banned.some((b) => i === b || i.startsWith(b.endsWith('/') ? b : `${b}/`) || i.startsWith(`${b}-`)))
          .map((i) => `${file} -> ${i}`),
      );
      expect(violations).toEqual([]);
    });
  }

  it('has no import cycles', () => {
    expect(importCycles()).toEqual([]);
  });

  it('finds the imports it checks (the scan itself works)', () => {
    expect(imports('src/api/app.ts')).toContain('fastify');
    expect(imports('workers/training-runner.ts')).toContain('src/store/job-store.js');
    expect(projectImports('src/training/train.ts')).toContain('src/training/checkpoint.ts');
  });
});
