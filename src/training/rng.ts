/** The seeded generators live in src/shared (experiment planning draws with them too). */
export * from '../shared/rng.js';
