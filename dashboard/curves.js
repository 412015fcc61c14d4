/** Curves of several jobs on one epoch axis: one line per job, or mean ± standard deviation over seeds. */
import { optimizerColor } from './dom.js';

/** A job's configuration without what differs between repeats (name, seed). @param {any} spec */
export function configKey(spec) {
  const { name: _name, training, ...rest } = spec ?? {};
  const { seed: _seed, ...t } = training ?? {};
  return JSON.stringify({ ...rest, training: t });
}

/** @param {any} job */
export const jobLabel = (job) => `${job.name ?? job.id.slice(0, 8)} (${job.spec?.optimizer?.name ?? '?'})`;

/** Metric keys any of the jobs recorded. @param {any[]} jobs */
export const metricKeys = (jobs) => [...new Set(jobs.flatMap((j) => (j.history ?? []).flatMap((/** @type {object} */ r) => Object.keys(r))))].filter((k) => k !== 'epoch');

/**
 * @param {any[]} jobs records with `history`
 * @param {string} metric
 * @param {boolean} overSeeds mean ± std of jobs that differ only in seed (and name)
 * @returns {{xs: number[], series: import('./chart.js').SeriesSpec[], ys: (number | null)[][]}}
 */
export function overlay(jobs, metric, overSeeds) {
  const longest = Math.max(0, ...jobs.map((j) => j.history?.length ?? 0));
  const xs = Array.from({ length: longest }, (_, i) => i + 1);
  /** @param {any} job */
  const values = (job) => {
    const byEpoch = new Map((job.history ?? []).map((/** @type {any} */ r) => [r.epoch, r[metric]]));
    return xs.map((x) => (typeof byEpoch.get(x) === 'number' ? /** @type {number} */ (byEpoch.get(x)) : null));
  };
  /** @type {import('./chart.js').SeriesSpec[]} */
  const series = [];
  /** @type {(number | null)[][]} */
  const ys = [];
  if (!overSeeds) {
    for (const job of jobs) {
      series.push({ label: jobLabel(job), color: optimizerColor(job.spec?.optimizer?.name ?? '') });
      ys.push(values(job));
    }
    return { xs, series, ys };
  }
  /** @type {Map<string, any[]>} */
  const groups = new Map();
  for (const job of jobs) {
    const key = configKey(job.spec);
    groups.set(key, [...(groups.get(key) ?? []), job]);
  }
  for (const members of groups.values()) {
    const first = members[0];
    const color = optimizerColor(first.spec?.optimizer?.name ?? '');
    const columns = members.map(values);
    const mean = [];
    const hi = [];
    const lo = [];
    for (let i = 0; i < xs.length; i++) {
      const vs = /** @type {number[]} */ (columns.map((c) => c[i]).filter((v) => typeof v === 'number'));
      if (vs.length === 0) {
        mean.push(null);
        hi.push(null);
        lo.push(null);
        continue;
      }
      const m = vs.reduce((a, b) => a + b, 0) / vs.length;
      const sd = Math.sqrt(vs.reduce((a, b) => a + (b - m) ** 2, 0) / vs.length);
      mean.push(m);
      hi.push(m + sd);
      lo.push(m - sd);
    }
    const label = `${first.spec?.optimizer?.name ?? '?'} lr=${first.spec?.optimizer?.learningRate ?? '?'} ×${members.length} seeds`;
    series.push({ label, color }, { label: `${label} +σ`, color, band: 'hi' }, { label: `${label} −σ`, color, band: 'lo' });
    ys.push(mean, hi, lo);
  }
  return { xs, series, ys };
}
