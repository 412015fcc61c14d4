export * from './datasets.js';
export * from './preprocessing.js';
export * from './job-spec.js';
export * from './layers.js';
export * from './optimizers.js';
export * from './schedules.js';
export * from './job-record.js';
export * from './optimizer-catalog.js';
