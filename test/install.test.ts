import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import semver from 'semver';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { provisionedRedisServer, redisServerCommand } from '../src/cli/redis-server.js';

describe('package.json engines', () => {
  it('admit only Node versions that every locked package supports', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as {
      packages: Record<string, { engines?: { node?: string } | string[] }>;
    };
    const lowest = semver.minVersion(pkg.engines.node)!.version;
    const refusing = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .flatMap(([path, entry]) => {
        const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
        return range && !semver.satisfies(lowest, range) ? [`${path.replace(/^.*node_modules\//, '')} needs node ${range}`] : [];
      });
    expect(refusing, `engines says ${pkg.engines.node}`).toEqual([]);
  });
});

describe('provisioned redis-server (scripts/install-redis.mjs links it as node_modules/.bin/redis-server)', () => {
  let dir: string;
  let real: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'descent-redis-link-'));
    // The redis-server the tests themselves would run, as an absolute path.
    const found = redisServerCommand();
    if (!found) throw new Error('the tests need a redis-server');
    real = found.includes('/') ? found : spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const binDir = (root: string) => {
    const bin = join(root, 'node_modules', '.bin');
    mkdirSync(bin, { recursive: true });
    return bin;
  };

  it('is found from any directory below the project, as the compiled and the source modules sit at different depths', () => {
    symlinkSync(real, join(binDir(dir), 'redis-server'));
    const nested = join(dir, 'dist', 'src', 'cli');
    mkdirSync(nested, { recursive: true });
    const found = provisionedRedisServer(nested);
    expect(found).toBe(join(dir, 'node_modules', '.bin', 'redis-server'));
    expect(realpathSync(found!)).toBe(realpathSync(real));
  });

  it('skips a link that does not run (its cache was deleted) and looks further up', () => {
    const inner = join(dir, 'packages', 'inner');
    symlinkSync(join(dir, 'deleted-cache', 'redis-server'), join(binDir(inner), 'redis-server'));
    expect(provisionedRedisServer(inner)).toBeUndefined();
    symlinkSync(real, join(binDir(dir), 'redis-server'));
    expect(provisionedRedisServer(inner)).toBe(join(dir, 'node_modules', '.bin', 'redis-server'));
  });

  it('is not a file that merely has the name', () => {
    const bin = join(binDir(dir), 'redis-server');
    writeFileSync(bin, '#!/bin/sh\nexit 1\n');
    chmodSync(bin, 0o755);
    expect(provisionedRedisServer(dir)).toBeUndefined();
  });
});
