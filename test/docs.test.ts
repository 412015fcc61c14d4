import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeConfig } from '../src/config/config.js';
import { BUILTIN_DATASET_NAMES, LAYER_TYPES, OPTIMIZER_NAMES, lossSchema } from '../src/spec/index.js';
import { builtinDatasetMarkdown, optimizerCatalogMarkdown } from '../src/catalog/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every configuration variable with its real default', () => {
    for (const { name, default: def } of describeConfig()) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      expect(row).toContain(`| \`${String(def)}\` |`);
    }
  });

  it('names every optimizer, built-in dataset, layer type and loss', () => {
    for (const name of [...OPTIMIZER_NAMES, ...BUILTIN_DATASET_NAMES, ...LAYER_TYPES, ...lossSchema.options]) {
      expect(readme, name).toContain(`\`${name}\``);
    }
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
