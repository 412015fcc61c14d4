import { mkdirSync, writeFileSync } from 'node:fs';
import { builtinDatasetMarkdown, optimizerCatalogMarkdown } from '../src/catalog/index.js';

mkdirSync(new URL('../docs/', import.meta.url), { recursive: true });
writeFileSync(new URL('../docs/optimizers.md', import.meta.url), optimizerCatalogMarkdown());
writeFileSync(new URL('../docs/datasets.md', import.meta.url), builtinDatasetMarkdown());
console.log('wrote docs/optimizers.md and docs/datasets.md');
