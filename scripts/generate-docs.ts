import { mkdirSync, writeFileSync } from 'node:fs';
import { optimizerCatalogMarkdown } from '../src/spec/index.js';

mkdirSync(new URL('../docs/', import.meta.url), { recursive: true });
writeFileSync(new URL('../docs/optimizers.md', import.meta.url), optimizerCatalogMarkdown());
console.log('wrote docs/optimizers.md');
