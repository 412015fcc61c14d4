export * from './preflight.js';
export * from './model-summary.js';
export * from './experiment-plan.js';
export * from './experiment-results.js';
export * from './trial-schedulers.js';
export * from './graph-support.js';
