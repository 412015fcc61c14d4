export * from './preflight.js';
export * from './model-summary.js';
export * from './graph-support.js';
