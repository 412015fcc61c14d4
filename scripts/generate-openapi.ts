import { writeFileSync } from 'node:fs';
import { generateOpenApi } from '../src/api/openapi.js';

writeFileSync(new URL('../openapi.yaml', import.meta.url), await generateOpenApi());
console.log('wrote openapi.yaml');
