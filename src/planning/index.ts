export * from './preflight.js';
export * from './model-summary.js';
