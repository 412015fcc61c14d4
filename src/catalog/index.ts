export * from './option-info.js';
export * from './optimizer-catalog.js';
export * from './dataset-catalog.js';
