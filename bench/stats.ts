/** Small statistics helpers: percentiles and medians across runs. */

/** The p-th percentile (0..100, nearest rank) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * The element-wise median of several results of the same shape: numbers are replaced by
 * their median across runs, other values are taken from the first run.
 */
export function medianOf<T>(runs: readonly T[]): T {
  const first = runs[0];
  if (runs.length <= 1 || first === undefined) return first as T;
  if (typeof first === 'number')
    return median(runs.filter((r): r is T & number => typeof r === 'number')) as T;
  if (first === null || typeof first !== 'object' || Array.isArray(first)) return first;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(first)) {
    out[key] = medianOf(runs.map((r) => (r as Record<string, unknown>)[key]));
  }
  return out as T;
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export const MiB = 1024 * 1024;
