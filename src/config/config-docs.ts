import { describeConfig } from './config.js';

const cell = (text: string) => text.replaceAll('|', '\\|');

/** docs/configuration.md: every environment variable with its default, read off the config schema. */
export function configMarkdown(): string {
  const rows = describeConfig().map(({ name, default: def, description }) => `| \`${name}\` | \`${cell(String(def))}\` | ${cell(description)} |`);
  return [
    '# Configuration',
    '',
    '<!-- Generated from src/config/config.ts by `npm run docs`; edit there. -->',
    '',
    'Descent reads its settings from environment variables, each with a default. `src/config/config.ts` is the one',
    'place that reads them: the API, the workers, `npm start` and the tests all parse the environment through its',
    'schema, and refuse to start on a value it does not accept, naming the variable.',
    '',
    '| variable | default | meaning |',
    '|---|---|---|',
    ...rows,
    '',
    'Descent refuses to start against a Redis whose `maxmemory-policy` is not `noeviction`: BullMQ loses jobs when',
    'keys are evicted.',
    '',
  ].join('\n');
}
