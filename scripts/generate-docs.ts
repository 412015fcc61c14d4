import { mkdirSync, writeFileSync } from 'node:fs';
import { builtinDatasetMarkdown, optimizerCatalogMarkdown } from '../src/catalog/index.js';
import { configMarkdown } from '../src/config/config-docs.js';

mkdirSync(new URL('../docs/', import.meta.url), { recursive: true });
writeFileSync(new URL('../docs/optimizers.md', import.meta.url), optimizerCatalogMarkdown());
writeFileSync(new URL('../docs/datasets.md', import.meta.url), builtinDatasetMarkdown());
writeFileSync(new URL('../docs/configuration.md', import.meta.url), configMarkdown());
console.log('wrote docs/optimizers.md, docs/datasets.md and docs/configuration.md');
