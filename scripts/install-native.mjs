#!/usr/bin/env node
// install-native.mjs: make `require('@tensorflow/tfjs-node')` load its native
// TensorFlow backend without network access to Google storage.
//
// Run it from the project root, after an `npm install/ci --ignore-scripts`
// (tfjs-node's own install script has not run):
//
//   node scripts/install-native.mjs
//
// Route 1: tfjs-node's own scripts/install.js (downloads libtensorflow
//          2.9.1, then node-pre-gyp fetches or builds the addon), with a
//          short timeout.
// Route 2: take libtensorflow_cc.so.2 + libtensorflow_framework.so.2 and the
//          C API headers from the `tensorflow-cpu` wheel on PyPI (cached
//          outside node_modules), stage them as tfjs-node's deps/, then build
//          the addon from source with node-pre-gyp/node-gyp against the local
//          Node headers.
// If neither works, print how training falls back to the pure-JS `cpu`
// backend and how to fix it, and exit 0 anyway.
//
// Environment:
//   DESCENT_SKIP_NATIVE=1         do nothing (exit 0)
//   DESCENT_TF_WHEEL=/path.whl    use this local tensorflow(-cpu) wheel, no download
//   DESCENT_TF_VERSION=2.18.0     tensorflow-cpu version to download from PyPI
//   DESCENT_TF_CACHE=dir          cache dir (default ${XDG_CACHE_HOME:-~/.cache}/descent/tfjs-native)
//   DESCENT_NATIVE_FORCE=1        rebuild even if the addon already loads
//   DESCENT_SKIP_UPSTREAM=1       skip route 1 (tfjs-node's own install.js)
//   DESCENT_UPSTREAM_TIMEOUT=60   seconds allowed for route 1
//   DESCENT_NATIVE_NO_SMOKE=1     skip the XOR training smoke test
//   DESCENT_SKIP_GRAPH=1          do not build the graph-engine addon (native/graph)
//
// Once tfjs-node loads, the graph-engine addon (native/graph/graph.cc, a thin N-API binding
// of the TF C graph API) is compiled with g++ against the same staged deps/include and
// deps/lib, into native/graph/build/descent_graph.node. If that fails, install still
// succeeds and training uses the eager engine.
//
// Node builtins only; also uses python3 (zipfile, pip), g++, make, nm, ldd.

import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const env = process.env;
const TF_VERSION = env.DESCENT_TF_VERSION || '2.18.0';
const WHEEL_PY_VERSION = '3.11'; // any cp3x wheel carries the same shared libs
const WHEEL_PLATFORM = 'manylinux2014_x86_64';
const UPSTREAM_TIMEOUT_S = Number(env.DESCENT_UPSTREAM_TIMEOUT || 60);
const CACHE_DIR = path.resolve(env.DESCENT_TF_CACHE ||
    path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'),
              'descent', 'tfjs-native'));
const ROOT = path.resolve(process.argv[2] || process.cwd());
const TAG = '[install-native]';

const log = (...a) => console.log(TAG, ...a);
const warn = (...a) => console.warn(TAG, 'WARN:', ...a);
const isTrue = (v) => !!v && !/^(0|false|no|off)?$/i.test(v);
const sec = (t0) => ((Date.now() - t0) / 1000).toFixed(1) + 's';
const exists = (p) => fs.existsSync(p);
const tail = (s, n = 20) => String(s || '').trimEnd().split('\n').slice(-n).join('\n');

class Skip extends Error {}  // an expected "cannot do this here" condition

// ---------------------------------------------------------------- processes

/** Runs a command. Resolves {code, out, timedOut}; never rejects. With
 *  `live`, output goes to our stdout/stderr as well. On timeout the whole
 *  process group we started is killed. */
function run(cmd, args, { cwd = ROOT, extraEnv = {}, timeoutS = 0, live = false, input } = {}) {
  return new Promise((resolve) => {
    let out = '';
    let timedOut = false;
    let child;
    try {
      child = spawn(cmd, args, {
        cwd, env: { ...env, ...extraEnv }, detached: true,
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (e) {
      resolve({ code: -1, out: String(e), timedOut });
      return;
    }
    const onData = (stream) => (buf) => {
      out += buf;
      if (live) stream.write(buf);
    };
    child.stdout.on('data', onData(process.stdout));
    child.stderr.on('data', onData(process.stderr));
    if (input !== undefined) child.stdin.end(input);
    const timer = timeoutS > 0 && setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
    }, timeoutS * 1000);
    child.on('error', (e) => { out += String(e); });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? -1, out, timedOut });
    });
  });
}

const hasCmd = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

// ------------------------------------------------------------ tfjs-node info

function locateTfjsNode() {
  const req = createRequire(path.join(ROOT, 'package.json'));
  let pkgPath;
  try {
    pkgPath = req.resolve('@tensorflow/tfjs-node/package.json');
  } catch {
    throw new Skip(`@tensorflow/tfjs-node is not installed under ${ROOT}/node_modules`);
  }
  const dir = path.dirname(pkgPath);
  const pkgText = fs.readFileSync(pkgPath, 'utf8');
  const pkg = JSON.parse(pkgText);
  // node-pre-gyp picks the highest napi_versions entry the running Node supports.
  const napi = Math.max(...(pkg.binary.napi_versions || [3])
      .filter((v) => v <= Number(process.versions.napi)));
  const modulePath = pkg.binary.module_path.replace('{napi_build_version}', napi);
  const addon = path.resolve(dir, modulePath, `${pkg.binary.module_name}.node`);
  // scripts/deps-constants.js names the marker file install.js looks for
  // (deps/lib/libtensorflow.so.<LIBTENSORFLOW_VERSION>).
  let constants = {};
  try { constants = createRequire(pkgPath)('./scripts/deps-constants.js'); } catch { /* older layouts: use the defaults below */ }
  return { dir, pkg, pkgPath, pkgText, napi, addon, constants };
}

/** Loads tfjs-node in a fresh process; ok when the backend is `tensorflow`. */
async function checkLoads(timeoutS = 120) {
  const code = `const tf = require('@tensorflow/tfjs-node');
    console.log('BACKEND=' + tf.getBackend());`;
  const r = await run(process.execPath, ['-e', code],
      { extraEnv: { TF_CPP_MIN_LOG_LEVEL: '2' }, timeoutS });
  const m = /BACKEND=(\S+)/.exec(r.out);
  return { ok: r.code === 0 && m?.[1] === 'tensorflow', backend: m?.[1], out: r.out };
}

async function smokeTrain() {
  const code = `
    const tf = require('@tensorflow/tfjs-node');
    (async () => {
      const xs = tf.tensor2d([[0,0],[0,1],[1,0],[1,1]]);
      const ys = tf.tensor2d([[0],[1],[1],[0]]);
      const m = tf.sequential();
      m.add(tf.layers.dense({units: 8, activation: 'tanh', inputShape: [2]}));
      m.add(tf.layers.dense({units: 1, activation: 'sigmoid'}));
      m.compile({optimizer: tf.train.adam(0.05), loss: 'binaryCrossentropy'});
      const t0 = Date.now();
      const h = await m.fit(xs, ys, {epochs: 50, verbose: 0});
      const l = h.history.loss;
      console.log(JSON.stringify({backend: tf.getBackend(), first: l[0],
        last: l[l.length - 1], ms: Date.now() - t0}));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = await run(process.execPath, ['-e', code],
      { extraEnv: { TF_CPP_MIN_LOG_LEVEL: '2' }, timeoutS: 180 });
  try {
    const res = JSON.parse(r.out.trim().split('\n').filter((l) => l.startsWith('{')).pop());
    return { ...res, ok: res.backend === 'tensorflow' && res.last < res.first };
  } catch {
    return { ok: false, out: r.out };
  }
}

// ------------------------------------------------------------- node headers

/** A directory usable as node-gyp's --nodedir (has include/node/common.gypi
 *  and node_api.h), so node-gyp does not try to download headers. */
function findNodeDir() {
  const ok = (d) => d && exists(path.join(d, 'include/node/node_api.h')) &&
      exists(path.join(d, 'include/node/common.gypi'));
  const version = (d) => {
    try {
      const h = fs.readFileSync(path.join(d, 'include/node/node_version.h'), 'utf8');
      const v = ['MAJOR', 'MINOR', 'PATCH'].map(
          (k) => new RegExp(`define NODE_${k}_VERSION (\\d+)`).exec(h)[1]);
      return 'v' + v.join('.');
    } catch { return '?'; }
  };
  const candidates = [
    env.npm_config_nodedir,
    path.resolve(path.dirname(process.execPath), '..'),  // /usr, /usr/local, nvm dir
    path.join(os.homedir(), '.cache/node-gyp', process.versions.node),
    '/usr/local', '/usr',
  ].filter(ok);
  // Prefer headers of exactly this Node version (N-API is ABI-stable anyway).
  return candidates.find((d) => version(d) === process.version) || candidates[0];
}

// ------------------------------------------------------------------ route 1

async function routeUpstream(t) {
  if (isTrue(env.DESCENT_SKIP_UPSTREAM)) { log('route 1 skipped (DESCENT_SKIP_UPSTREAM)'); return false; }
  log(`route 1: tfjs-node scripts/install.js (timeout ${UPSTREAM_TIMEOUT_S}s)`);
  const t0 = Date.now();
  // deps/ staged by route 2 would make install.js skip the libtensorflow
  // 2.9.1 download and pair a prebuilt 2.9.1 addon with our libs: start clean.
  const src = path.join(t.dir, 'deps', 'SOURCE.txt');
  if (exists(src) && fs.readFileSync(src, 'utf8').startsWith('staged by install-native')) {
    fs.rmSync(path.join(t.dir, 'deps'), { recursive: true, force: true });
  }
  const nodeDir = findNodeDir();
  const r = await run(process.execPath, ['scripts/install.js'], {
    cwd: t.dir, timeoutS: UPSTREAM_TIMEOUT_S,
    extraEnv: {
      PATH: [path.join(t.dir, 'node_modules/.bin'), path.join(ROOT, 'node_modules/.bin'),
             env.PATH].join(path.delimiter),
      ...(nodeDir ? { npm_config_nodedir: nodeDir } : {}),
    },
  });
  // install.js rewrites package.json (binary.package_name) and only restores
  // it on success: put the original back whatever happened.
  if (fs.readFileSync(t.pkgPath, 'utf8') !== t.pkgText) fs.writeFileSync(t.pkgPath, t.pkgText);
  const why = r.timedOut ? 'timed out' : `exit ${r.code}`;
  if (r.code === 0 && !r.timedOut && exists(t.addon) && (await checkLoads()).ok) {
    log(`route 1 succeeded in ${sec(t0)}`);
    return true;
  }
  log(`route 1 failed (${why}, ${sec(t0)}); last output:\n${tail(r.out, 8).replace(/^/gm, '    ')}`);
  return false;
}

// ------------------------------------------------------------- wheel access

/** List and extract wheel (zip) members with python3's zipfile, or unzip. */
const PY_ZIP = `
import sys, zipfile, json, shutil, os
whl, cmd = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(whl)
if cmd == 'list':
    print(json.dumps(z.namelist()))
else:
    dest = sys.argv[3]
    for name in json.load(sys.stdin):
        z.extract(name, dest)
`;
const pythonCmd = () => ['python3', 'python'].find(hasCmd);

async function zipList(whl) {
  const py = pythonCmd();
  const r = py ? await run(py, ['-c', PY_ZIP, whl, 'list'])
               : await run('unzip', ['-Z1', whl]);
  if (r.code !== 0) throw new Error(`cannot list ${whl}:\n${tail(r.out)}`);
  return py ? JSON.parse(r.out) : r.out.split('\n').filter(Boolean);
}

async function zipExtract(whl, names, dest) {
  if (!names.length) return;
  fs.mkdirSync(dest, { recursive: true });
  const py = pythonCmd();
  const r = py ? await run(py, ['-c', PY_ZIP, whl, 'extract', dest], { input: JSON.stringify(names) })
               : await run('unzip', ['-o', '-q', whl, ...names, '-d', dest]);
  if (r.code !== 0) throw new Error(`cannot extract from ${whl}:\n${tail(r.out)}`);
}

/** Returns a local tensorflow wheel: $DESCENT_TF_WHEEL, a cached one, or a
 *  fresh `pip download` into the cache. */
async function getWheel() {
  if (env.DESCENT_TF_WHEEL) {
    const p = path.resolve(env.DESCENT_TF_WHEEL);
    if (!exists(p)) throw new Skip(`DESCENT_TF_WHEEL=${p} does not exist`);
    return p;
  }
  const dir = path.join(CACHE_DIR, 'wheels');
  const find = () => exists(dir) && fs.readdirSync(dir).find((f) =>
      f.startsWith(`tensorflow_cpu-${TF_VERSION}-`) && f.endsWith('.whl') && /x86_64/.test(f));
  let f = find();
  if (f) { log(`using cached wheel ${path.join(dir, f)}`); return path.join(dir, f); }
  const py = pythonCmd();
  if (!py) throw new Skip('python3/pip not found: cannot download the tensorflow-cpu wheel');
  fs.mkdirSync(dir, { recursive: true });
  log(`downloading tensorflow-cpu==${TF_VERSION} wheel from PyPI (~230 MB) into ${dir}`);
  const t0 = Date.now();
  const r = await run(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
      '--python-version', WHEEL_PY_VERSION, '--platform', WHEEL_PLATFORM,
      '--disable-pip-version-check', '--progress-bar', 'off',
      `tensorflow-cpu==${TF_VERSION}`, '-d', dir], { timeoutS: 1800 });
  f = find();
  if (r.code !== 0 || !f) throw new Skip(`pip download failed (${r.timedOut ? 'timeout' : 'exit ' + r.code}):\n${tail(r.out, 6)}`);
  log(`downloaded ${f} in ${sec(t0)}`);
  return path.join(dir, f);
}

// ------------------------------------------------- extracted libs + headers

const WHEEL_INC = 'tensorflow/include/';
const LIBS = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];
// Seed headers: the C and eager C APIs, and the tstring headers they pull in
// (whose location moved between TF versions). The include closure of the
// binding is completed by resolveHeaders().
const SEED_HEADER = /^tensorflow\/include\/(tensorflow\/c\/(eager\/)?[^/]+\.h|(tensorflow\/|xla\/)?tsl\/c\/[^/]+\.h|(.*\/)?platform\/ctstring(_internal)?\.h)$/;

/** Unpacks libs + seed headers of the wheel into a cache dir (done once per
 *  wheel); later runs (e.g. after `rm -rf node_modules`) reuse it. */
async function prepareTfDir(whlGetter, key) {
  const tfDir = path.join(CACHE_DIR, 'extracted', key);
  if (exists(path.join(tfDir, '.complete'))) {
    log(`using cached extracted libs/headers ${tfDir}`);
    return tfDir;
  }
  const whl = await whlGetter();
  const t0 = Date.now();
  log(`extracting shared libs + C API headers from ${path.basename(whl)}`);
  const names = await zipList(whl);
  const libs = LIBS.map((l) => `tensorflow/${l}`);
  const missing = libs.filter((l) => !names.includes(l));
  if (missing.length) {
    throw new Skip(`${path.basename(whl)} has no ${missing.join(', ')}: this TF version does not ` +
        'ship the C API in libtensorflow_cc (try DESCENT_TF_VERSION=2.18.0)');
  }
  const tmp = `${tfDir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await zipExtract(whl, [...libs, ...names.filter((n) => SEED_HEADER.test(n))], tmp);
  fs.mkdirSync(path.join(tmp, 'lib'));
  for (const l of LIBS) fs.renameSync(path.join(tmp, 'tensorflow', l), path.join(tmp, 'lib', l));
  fs.renameSync(path.join(tmp, WHEEL_INC), path.join(tmp, 'include'));
  fs.rmSync(path.join(tmp, 'tensorflow'), { recursive: true, force: true });
  fs.writeFileSync(path.join(tmp, 'SOURCE.txt'), `${path.basename(whl)}\n`);
  fs.writeFileSync(path.join(tmp, '.complete'), '');
  fs.rmSync(tfDir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(tfDir), { recursive: true });
  fs.renameSync(tmp, tfDir);
  log(`extracted in ${sec(t0)} -> ${tfDir}`);
  return tfDir;
}

/** Makes sure every header the binding sources include (transitively) is in
 *  tfDir/include: missing ones are pulled from the wheel, and headers that
 *  moved (e.g. tensorflow/core/platform/X.h -> tsl/platform/X.h) get a
 *  forwarding shim in this staged tree (tfjs-node's files stay untouched). */
async function resolveHeaders(tfDir, t, whlGetter, nodeDir) {
  const inc = path.join(tfDir, 'include');
  const sources = fs.readdirSync(path.join(t.dir, 'binding'))
      .filter((f) => f.endsWith('.cc')).map((f) => path.join(t.dir, 'binding', f));
  let names = null;
  const tried = new Set();
  for (let round = 0; round < 30; round++) {
    const args = ['-std=c++17', '-MM', '-MG', `-I${inc}`, `-I${t.dir}`,
                  ...(nodeDir ? [`-I${nodeDir}/include/node`] : []), ...sources];
    const r = await run('g++', args, { cwd: t.dir });
    if (r.code !== 0) throw new Error(`g++ -MM failed:\n${tail(r.out)}`);
    const deps = r.out.replace(/\\\n/g, ' ').split(/\s+/)
        .filter((d) => d.endsWith('.h') && !path.isAbsolute(d));
    const missing = [...new Set(deps)].filter((d) => !tried.has(d) &&
        !exists(path.join(inc, d)) && !exists(path.join(t.dir, 'binding', d)) &&
        !/^(node_api|js_native_api|node_api_types|js_native_api_types)\.h$/.test(d));
    if (!missing.length) return;
    names ??= await zipList(await whlGetter());
    const extract = [];
    for (const h of missing) {
      tried.add(h);
      if (names.includes(WHEEL_INC + h)) { extract.push(WHEEL_INC + h); continue; }
      // Moved header: look for the same file name under another prefix.
      const base = h.split('/').slice(-2).join('/');  // e.g. platform/ctstring_internal.h
      const target = names.find((n) => n.startsWith(WHEEL_INC) && n.endsWith('/' + base));
      if (target) {
        const rel = target.slice(WHEEL_INC.length);
        extract.push(target);
        fs.mkdirSync(path.dirname(path.join(inc, h)), { recursive: true });
        fs.writeFileSync(path.join(inc, h),
            `// shim written by install-native.mjs: ${h} moved to ${rel}\n#include "${rel}"\n`);
        log(`header shim: ${h} -> ${rel}`);
      } else {
        warn(`header ${h} not found in the wheel; the build may fail`);
      }
    }
    if (extract.length) {
      const tmp = `${tfDir}.hdr-${process.pid}`;
      await zipExtract(await whlGetter(), extract, tmp);
      fs.cpSync(path.join(tmp, WHEEL_INC), inc, { recursive: true });
      fs.rmSync(tmp, { recursive: true, force: true });
      log(`added ${extract.length} header(s) to the cached include tree`);
    }
  }
}

// ------------------------------------------------------------------ staging

function linkOrCopy(src, dst) {
  try { fs.linkSync(src, dst); } catch { fs.copyFileSync(src, dst); }
}

/** Lays out tfjs-node/deps like the libtensorflow tarball would:
 *    deps/lib/libtensorflow_cc.so.2, libtensorflow_framework.so.2 (real files)
 *    deps/lib/libtensorflow.so, libtensorflow_framework.so (for -l at link time)
 *    deps/lib/libtensorflow.so.2.9.1 ... (marker install.js checks)
 *    deps/include/...                  (C API headers)  */
function stageDeps(tfDir, t) {
  const deps = path.join(t.dir, 'deps');
  const lib = path.join(deps, 'lib');
  fs.rmSync(deps, { recursive: true, force: true });
  fs.mkdirSync(lib, { recursive: true });
  for (const l of LIBS) linkOrCopy(path.join(tfDir, 'lib', l), path.join(lib, l));
  const links = {
    'libtensorflow.so': 'libtensorflow_cc.so.2',
    'libtensorflow.so.2': 'libtensorflow_cc.so.2',
    'libtensorflow_framework.so': 'libtensorflow_framework.so.2',
  };
  const c = t.constants;
  if (c.depsLibTensorFlowName) links[c.depsLibTensorFlowName] = 'libtensorflow_cc.so.2';
  if (c.depsLibTensorFlowFrameworkName) links[c.depsLibTensorFlowFrameworkName] = 'libtensorflow_framework.so.2';
  for (const [name, target] of Object.entries(links)) {
    if (!exists(path.join(lib, name))) fs.symlinkSync(target, path.join(lib, name));
  }
  fs.cpSync(path.join(tfDir, 'include'), path.join(deps, 'include'), { recursive: true });
  fs.writeFileSync(path.join(deps, 'SOURCE.txt'),
      `staged by install-native.mjs from ${fs.readFileSync(path.join(tfDir, 'SOURCE.txt'), 'utf8')}`);
}

// -------------------------------------------------------------------- build

async function buildAddon(t, nodeDir) {
  const req = createRequire(t.pkgPath);
  let preGyp;
  try {
    preGyp = path.join(path.dirname(req.resolve('@mapbox/node-pre-gyp/package.json')), 'bin/node-pre-gyp');
  } catch {
    throw new Skip('@mapbox/node-pre-gyp (a tfjs-node dependency) is missing');
  }
  const extraEnv = {
    PATH: [path.join(ROOT, 'node_modules/.bin'), env.PATH].join(path.delimiter),
    ...(nodeDir ? { npm_config_nodedir: nodeDir } : {}),
  };
  if (!env.npm_config_node_gyp) {
    // node-pre-gyp finds npm's bundled node-gyp next to the node binary; also
    // accept a node-gyp installed in the project or globally.
    for (const c of [() => createRequire(path.join(ROOT, 'package.json')).resolve('node-gyp/bin/node-gyp.js'),
                     () => path.resolve(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
                     () => path.resolve(path.dirname(process.execPath), '../lib/node_modules/node-gyp/bin/node-gyp.js')]) {
      try { const p = c(); if (exists(p)) { extraEnv.npm_config_node_gyp = p; break; } } catch { /* try the next candidate */ }
    }
  }
  log(`building addon: node-pre-gyp install --build-from-source` +
      ` (nodedir=${nodeDir || 'node-gyp default'}, node-gyp=${extraEnv.npm_config_node_gyp || env.npm_config_node_gyp || 'auto'})`);
  const t0 = Date.now();
  const r = await run(process.execPath, [preGyp, 'install', '--build-from-source'],
      { cwd: t.dir, extraEnv, timeoutS: 1200 });
  if (r.code !== 0 || !exists(t.addon)) {
    const errs = r.out.split('\n').filter((l) => /error|undefined reference|No such file/i.test(l));
    throw new Error(`addon build failed (exit ${r.code}, ${sec(t0)}):\n` +
        `${tail(errs.join('\n'), 15)}\n--- last output ---\n${tail(r.out, 15)}`);
  }
  log(`addon built in ${sec(t0)}: ${t.addon}`);
}

// ------------------------------------------------------------------- verify

async function verify(t) {
  let ok = true;
  const files = [t.addon, ...LIBS.map((l) => path.join(t.dir, 'deps/lib', l))];
  for (const f of files) {
    if (!exists(f)) continue;
    const r = await run('nm', ['-D', '--undefined-only', f]);
    const py = r.out.split('\n').filter((l) => /\sPy\w*/.test(l));
    log(`nm -D --undefined-only ${path.relative(t.dir, f)}: ${r.code === 0 ? `${py.length} Python (Py*) symbols` : 'nm failed'}`);
    if (py.length) { ok = false; log(tail(py.join('\n'), 5)); }
  }
  const l = await run('ldd', [t.addon]);
  const notFound = l.out.split('\n').filter((x) => /not found/.test(x));
  log(`ldd ${path.relative(t.dir, t.addon)}: ${notFound.length ? 'UNRESOLVED:\n' + notFound.join('\n') : 'all resolved'}`);
  l.out.split('\n').filter((x) => /tensorflow/.test(x)).forEach((x) => log('   ' + x.trim()));
  if (notFound.length) ok = false;
  const c = await checkLoads();
  log(`require('@tensorflow/tfjs-node') -> getBackend() = ${c.backend ?? 'load failed'}`);
  if (!c.ok) { ok = false; log(tail(c.out, 10)); }
  if (ok && !isTrue(env.DESCENT_NATIVE_NO_SMOKE)) {
    const s = await smokeTrain();
    if (s.ok) log(`smoke test: XOR 50 epochs adam on ${s.backend}: loss ${s.first.toFixed(4)} -> ${s.last.toFixed(4)} (${s.ms} ms)`);
    else { ok = false; log(`smoke test FAILED:\n${tail(s.out ?? JSON.stringify(s), 10)}`); }
  }
  return ok;
}

// ------------------------------------------------------------ graph addon

const GRAPH_SOURCE = path.join(ROOT, 'native/graph/graph.cc');
const GRAPH_ADDON = path.join(ROOT, 'native/graph/build/descent_graph.node');

/** Loads the graph addon in a fresh process (after tfjs-node, as training does). */
async function checkGraphLoads() {
  const code = `require('@tensorflow/tfjs-node');
    const g = require(${JSON.stringify(GRAPH_ADDON)});
    const graph = new g.Graph(); graph.delete();
    console.log('GRAPH=' + g.tensorflowVersion);`;
  const r = await run(process.execPath, ['-e', code], { extraEnv: { TF_CPP_MIN_LOG_LEVEL: '2' }, timeoutS: 120 });
  const m = /GRAPH=(\S+)/.exec(r.out);
  return { ok: r.code === 0 && Boolean(m), version: m?.[1], out: r.out };
}

/** Builds the graph-engine addon against tfjs-node's staged libtensorflow; never throws. */
async function buildGraphAddon(t) {
  if (isTrue(env.DESCENT_SKIP_GRAPH)) { log('DESCENT_SKIP_GRAPH set: graph engine not built (training uses the eager engine)'); return; }
  if (!exists(GRAPH_SOURCE)) return;
  try {
    const deps = path.join(t.dir, 'deps');
    if (!exists(path.join(deps, 'include/tensorflow/c/c_api.h')) || !exists(path.join(deps, 'lib'))) {
      throw new Skip('tfjs-node has no deps/include + deps/lib to build against');
    }
    if (!hasCmd('g++')) throw new Skip('g++ not found');
    const nodeDir = findNodeDir();
    if (!nodeDir) throw new Skip('no local Node headers (node_api.h) found');
    const fresh = exists(GRAPH_ADDON) && fs.statSync(GRAPH_ADDON).mtimeMs > fs.statSync(GRAPH_SOURCE).mtimeMs;
    if (fresh && !isTrue(env.DESCENT_NATIVE_FORCE) && (await checkGraphLoads()).ok) {
      log('graph engine addon already built');
      return;
    }
    const t0 = Date.now();
    fs.mkdirSync(path.dirname(GRAPH_ADDON), { recursive: true });
    // The addon finds libtensorflow where tfjs-node's binding does, relative to itself.
    const rpath = path.relative(path.dirname(GRAPH_ADDON), path.join(deps, 'lib'));
    const r = await run('g++', ['-std=c++17', '-O2', '-fPIC', '-shared', '-DNODE_GYP_MODULE_NAME=descent_graph',
        `-I${nodeDir}/include/node`, `-I${deps}/include`, GRAPH_SOURCE, '-o', GRAPH_ADDON,
        `-L${deps}/lib`, '-ltensorflow', `-Wl,-rpath,$ORIGIN/${rpath}`], { timeoutS: 600 });
    if (r.code !== 0) throw new Error(`g++ failed (exit ${r.code}):\n${tail(r.out, 15)}`);
    const c = await checkGraphLoads();
    if (!c.ok) throw new Error(`the built addon does not load:\n${tail(c.out, 10)}`);
    log(`graph engine addon built in ${sec(t0)} (TensorFlow ${c.version}): ${path.relative(ROOT, GRAPH_ADDON)}`);
  } catch (e) {
    fs.rmSync(GRAPH_ADDON, { force: true });
    log(`graph engine NOT built (${e.message.split('\n')[0]}); training uses the eager engine`);
    if (!(e instanceof Skip)) log(e.message);
  }
}

// --------------------------------------------------------------------- main

function fallbackBanner(reason) {
  console.log([
    '',
    `${TAG} ==================================================================`,
    `${TAG} Native TensorFlow backend NOT installed: ${reason}`,
    `${TAG} Training will fall back to the pure-JS 'cpu' backend of @tensorflow/tfjs`,
    `${TAG} (works, roughly 10-20x slower for dense models).`,
    `${TAG} To fix, then re-run: node scripts/install-native.mjs`,
    `${TAG}   - allow network to PyPI (pip download tensorflow-cpu==${TF_VERSION}), or`,
    `${TAG}   - DESCENT_TF_WHEEL=/path/to/tensorflow_cpu-${TF_VERSION}-cp3*-manylinux*_x86_64.whl, or`,
    `${TAG}   - allow network to storage.googleapis.com (tfjs-node's own installer);`,
    `${TAG}   - building needs g++, make and python3 (apt-get install g++ make python3).`,
    `${TAG}   DESCENT_SKIP_NATIVE=1 silences this step.`,
    `${TAG} ==================================================================`,
  ].join('\n'));
}

async function main() {
  const t0 = Date.now();
  if (isTrue(env.DESCENT_SKIP_NATIVE)) { log('DESCENT_SKIP_NATIVE set: skipping native backend'); return; }
  let t;
  try {
    t = locateTfjsNode();
  } catch (e) {
    log(`${e.message}: nothing to do (pure-JS backends only)`);
    return;
  }
  log(`@tensorflow/tfjs-node ${t.pkg.version} at ${t.dir}; addon path ${path.relative(t.dir, t.addon)}`);
  if (t.pkg.version !== '4.22.0') warn(`tested with tfjs-node 4.22.0, found ${t.pkg.version}`);

  // Idempotence: nothing to do when the addon is there and loads.
  if (!isTrue(env.DESCENT_NATIVE_FORCE) && exists(t.addon)) {
    const c = await checkLoads();
    if (c.ok) {
      log(`native backend already working (backend=tensorflow), ${sec(t0)}`);
      await buildGraphAddon(t);
      return;
    }
    log('addon present but does not load; reinstalling');
  }

  if (await routeUpstream(t)) {
    if (await verify(t)) await buildGraphAddon(t);
    log(`done in ${sec(t0)}`);
    return;
  }

  try {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      throw new Skip(`the PyPI-wheel route supports linux x64 only (this is ${process.platform} ${process.arch})`);
    }
    for (const tool of ['g++', 'make']) {
      if (!hasCmd(tool)) throw new Skip(`${tool} not found (apt-get install g++ make python3)`);
    }
    log('route 2: libtensorflow from the tensorflow-cpu PyPI wheel + build from source');
    let wheel;
    const whlGetter = async () => (wheel ??= await getWheel());
    if (env.DESCENT_TF_WHEEL && !exists(env.DESCENT_TF_WHEEL)) {
      throw new Skip(`DESCENT_TF_WHEEL=${env.DESCENT_TF_WHEEL} does not exist`);
    }
    const key = env.DESCENT_TF_WHEEL
      ? path.basename(env.DESCENT_TF_WHEEL, '.whl') + '-' + fs.statSync(env.DESCENT_TF_WHEEL).size
      : `tensorflow_cpu-${TF_VERSION}-${WHEEL_PLATFORM}`;
    const tfDir = await prepareTfDir(whlGetter, key);
    const nodeDir = findNodeDir();
    if (!nodeDir) warn('no local Node headers found; node-gyp will try to download them');
    await resolveHeaders(tfDir, t, whlGetter, nodeDir);
    stageDeps(tfDir, t);
    log(`staged deps/lib + deps/include from ${tfDir}`);

    // Reuse a previously built addon for the same tfjs-node/TF/N-API combo.
    const addonCache = path.join(CACHE_DIR, 'addon',
        `tfjs-node-${t.pkg.version}-${key}-napi${t.napi}`, path.basename(t.addon));
    let built = false;
    if (exists(addonCache)) {
      fs.mkdirSync(path.dirname(t.addon), { recursive: true });
      fs.copyFileSync(addonCache, t.addon);
      if ((await checkLoads()).ok) log(`reused cached addon ${addonCache}`);
      else { fs.rmSync(t.addon, { force: true }); built = true; await buildAddon(t, nodeDir); }
    } else {
      built = true;
      await buildAddon(t, nodeDir);
    }
    if (!(await verify(t))) throw new Error('verification failed (see above)');
    if (built) {
      fs.mkdirSync(path.dirname(addonCache), { recursive: true });
      fs.copyFileSync(t.addon, addonCache);
    }
    const from = fs.readFileSync(path.join(tfDir, 'SOURCE.txt'), 'utf8').trim();
    log(`native backend ready (TensorFlow C API from ${from}) in ${sec(t0)}`);
    await buildGraphAddon(t);
  } catch (e) {
    if (!(e instanceof Skip)) console.error(TAG, e.stack || e);
    else if (e.message.includes('\n')) log(e.message);
    fallbackBanner(e.message.split('\n')[0]);
  }
}

main().catch((e) => {
  console.error(TAG, e.stack || e);
  fallbackBanner('unexpected error');
}).finally(() => { process.exitCode = 0; });
