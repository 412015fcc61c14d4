import { readFileSync } from 'node:fs';
import { compileErrors, validate } from '@readme/openapi-parser';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateOpenApi } from '../src/api/openapi.js';

describe('openapi.yaml', () => {
  it('is what the zod schemas generate (run `npm run openapi` after changing a schema)', async () => {
    const committed = readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8');
    expect(committed).toBe(await generateOpenApi());
  });

  it('is a valid OpenAPI document whose every $ref resolves', async () => {
    const doc = parse(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')) as Parameters<typeof validate>[0];
    const result = await validate(doc);
    expect(result.valid ? '' : compileErrors(result)).toBe('');
  });

  it('declares each tag once and gives no 204 a body', () => {
    const doc = parse(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')) as {
      tags: { name: string }[];
      paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>>;
    };
    const names = doc.tags.map((t) => t.name);
    expect(names).toEqual([...new Set(names)]);
    const noContent = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).flatMap(([method, op]) => (op.responses['204'] ? [[`${method} ${path}`, op.responses['204'].content] as const] : [])),
    );
    expect(noContent.length).toBeGreaterThan(0);
    for (const [where, content] of noContent) expect(content, where).toBeUndefined();
  });

  it('documents every contract endpoint', () => {
    const doc = parse(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
    const expected: [string, string][] = [
      ['/healthz', 'get'],
      ['/v1/jobs', 'post'],
      ['/v1/jobs', 'get'],
      ['/v1/jobs/{id}', 'get'],
      ['/v1/jobs/{id}/cancel', 'post'],
      ['/v1/jobs/{id}/predict', 'post'],
      ['/v1/jobs/{id}/model', 'get'],
      ['/v1/jobs/{id}/events', 'get'],
      ['/v1/datasets', 'post'],
      ['/v1/datasets', 'get'],
      ['/v1/datasets/{id}', 'get'],
      ['/v1/datasets/{id}', 'delete'],
    ];
    for (const [path, method] of expected) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
  });
});
