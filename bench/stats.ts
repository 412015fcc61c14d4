/** Small numeric and printing helpers shared by the bench parts. */

export function median(xs: number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile (p in 0..100); NaN for an empty list. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(rank, s.length) - 1]!;
}

export function stat(xs: number[]): { median: number; min: number; max: number; n: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: median(s), min: s[0] ?? NaN, max: s.at(-1) ?? NaN, n: s.length };
}

/** A GitHub-flavoured Markdown table; numeric-looking columns are right-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const numeric = headers.map((_, i) => cells.every((r) => /^[-\d.,×x%~ ]*$/.test(r[i] ?? '')));
  const lines = [`| ${headers.join(' | ')} |`, `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`];
  for (const r of cells) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

/** Three significant digits, no exponent for ordinary magnitudes. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (Number.isInteger(v) || a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves with `p` or rejects after `ms`, so no bench step can hang the run. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
