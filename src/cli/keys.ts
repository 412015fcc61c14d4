/**
 * `npm run keys -- create --tenant T --scope read|write|admin [--name N]`, `list`, `revoke ID`:
 * API keys, straight in the configured Redis (how the first admin key comes to be).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { scopeSchema, tenantSchema } from '../shared/access.js';
import { ApiKeyStore } from '../store/api-key-store.js';
import { redisKeys } from '../store/keys.js';
import { createRedis } from '../store/redis.js';

const USAGE = `usage:
  npm run keys -- create --tenant TENANT --scope read|write|admin [--name NAME]
  npm run keys -- list
  npm run keys -- revoke KEY_ID`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { tenant: { type: 'string' }, scope: { type: 'string' }, name: { type: 'string' } },
  });
  const [command, id] = positionals;
  const config = loadConfig();
  const redis = createRedis(config, { maxRetriesPerRequest: 3 });
  const store = new ApiKeyStore(redis, redisKeys(config.REDIS_PREFIX));
  try {
    if (command === 'create') {
      const tenant = tenantSchema.safeParse(values.tenant);
      const scope = scopeSchema.safeParse(values.scope);
      if (!tenant.success || !scope.success) {
        console.error(`${!tenant.success ? `--tenant: ${tenant.error.issues[0]!.message}` : `--scope: one of read, write, admin`}\n${USAGE}`);
        return 2;
      }
      const created = await store.create({ tenant: tenant.data, scope: scope.data, name: values.name ?? null });
      console.log(JSON.stringify({ ...created, note: 'the key is shown this once; Descent keeps only its hash' }, null, 2));
      return 0;
    }
    if (command === 'list') {
      for (const k of await store.list()) console.log(`${k.id}  ${k.tenant}  ${k.scope}  ${k.createdAt}  ${k.name ?? ''}`);
      return 0;
    }
    if (command === 'revoke' && id) {
      const revoked = await store.revoke(id);
      console.log(revoked ? `revoked ${id}` : `no key ${id}`);
      return revoked ? 0 : 1;
    }
    console.error(USAGE);
    return 2;
  } finally {
    redis.disconnect();
  }
}

process.exitCode = await main(process.argv.slice(2));
