import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeConfig } from '../src/config/config.js';
import { configMarkdown } from '../src/config/config-docs.js';
import { BUILTIN_DATASET_NAMES, LAYER_TYPES, OPTIMIZER_NAMES, lossSchema } from '../src/spec/index.js';
import { builtinDatasetMarkdown, optimizerCatalogMarkdown } from '../src/catalog/index.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('docs/configuration.md', () => {
  it('is what the config schema renders (run `npm run docs` after changing it)', () => {
    expect(read('docs/configuration.md')).toBe(configMarkdown());
  });

  it('has a row with the real default for every variable', () => {
    const doc = read('docs/configuration.md');
    for (const { name, default: def } of describeConfig()) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      expect(row).toContain(`| \`${String(def)}\` |`);
    }
  });
});

describe('docs/job-spec.md', () => {
  it('names every optimizer, built-in dataset, layer type and loss', () => {
    const doc = read('docs/job-spec.md');
    for (const name of [...OPTIMIZER_NAMES, ...BUILTIN_DATASET_NAMES, ...LAYER_TYPES, ...lossSchema.options]) {
      expect(doc, name).toContain(`\`${name}\``);
    }
  });
});

describe('README', () => {
  it('is a front door: at most 250 lines, and every docs/ link in it resolves', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
    const links = [...readme.matchAll(/\]\((docs\/[^)#]+)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(5);
    for (const link of links) expect(() => read(link), link).not.toThrow();
  });
});

describe('docs/optimizers.md', () => {
  it('is what the optimizer catalogue renders (run `npm run docs` after changing it)', () => {
    expect(readFileSync(new URL('../docs/optimizers.md', import.meta.url), 'utf8')).toBe(optimizerCatalogMarkdown());
  });
});

describe('docs/datasets.md', () => {
  it('is what the built-in dataset catalogue renders (run `npm run docs` after changing it)', () => {
    expect(readFileSync(new URL('../docs/datasets.md', import.meta.url), 'utf8')).toBe(builtinDatasetMarkdown());
  });
});
