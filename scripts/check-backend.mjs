#!/usr/bin/env node
// check-backend.mjs: the backend a worker of this build would train on, chosen exactly as
// workers choose it (initBackend('auto') from the compiled engine). Exits 1 unless it is the
// native `tensorflow` backend, or DESCENT_ALLOW_CPU=1 accepts the pure-JS `cpu` fallback.
// Run after `npm run build`: the Docker build runs it so an image never silently trains on cpu.

import { pathToFileURL } from 'node:url';
import path from 'node:path';

process.env.TF_CPP_MIN_LOG_LEVEL ??= '2'; // TensorFlow's start-up notices are noise here
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { initBackend } = await import(pathToFileURL(path.join(root, 'dist/src/training/backend.js')).href);
const info = await initBackend('auto');
const allowCpu = /^(1|true|yes)$/i.test(process.env.DESCENT_ALLOW_CPU ?? '');
const versions = Object.entries(info.versions).map(([k, v]) => `${k} ${v}`).join(', ');
console.log(`[check-backend] backend: ${info.backend} (${versions})`);
if (info.backend !== 'tensorflow') {
  console.error(`[check-backend] native TensorFlow does not load: ${info.fallbackReason ?? 'unknown reason'}`);
  if (!allowCpu) {
    console.error('[check-backend] refusing a build that would train on the pure-JS cpu backend; set DESCENT_ALLOW_CPU=1 to accept it');
    process.exit(1);
  }
  console.error('[check-backend] DESCENT_ALLOW_CPU=1: accepting the cpu backend');
}
