/**
 * Pure arithmetic of the reports: quantiles from histogram bucket counts (as Prometheus's
 * histogram_quantile does it), sample coverage and gaps, ratios.
 */

/** Cumulative bucket counts by upper bound `le` (including +Inf). */
export type Buckets = Map<number, number>;

/**
 * The q-quantile of a histogram, interpolating linearly inside the bucket as Prometheus's
 * histogram_quantile does: the lowest bucket starts at 0, a quantile in the +Inf bucket is the
 * highest finite bound. null without observations or without a +Inf bucket.
 */
export function histogramQuantile(q: number, buckets: Buckets): number | null {
  const sorted = [...buckets.entries()].filter(([le, v]) => !Number.isNaN(le) && Number.isFinite(v)).sort((a, b) => a[0] - b[0]);
  if (sorted.length < 2 || sorted[sorted.length - 1][0] !== Number.POSITIVE_INFINITY) return null;
  // Counts computed with increase() can be slightly non-monotonic: make them monotonic.
  for (let i = 1; i < sorted.length; i++) if (sorted[i][1] < sorted[i - 1][1]) sorted[i][1] = sorted[i - 1][1];
  const total = sorted[sorted.length - 1][1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let i = sorted.findIndex(([, count]) => count >= rank);
  if (i < 0) i = sorted.length - 1;
  if (i === sorted.length - 1) return sorted[sorted.length - 2][0];
  const [upper, upperCount] = sorted[i];
  const [lower, lowerCount] = i === 0 ? [0, 0] : sorted[i - 1];
  if (i === 0 && upper <= 0) return upper;
  const inBucket = upperCount - lowerCount;
  if (!(inBucket > 0)) return upper;
  return lower + (upper - lower) * ((rank - lowerCount) / inBucket);
}

export function ratio(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

export function round(value: number | null, digits = 4): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export interface Gap {
  from: string;
  to: string;
  /** Samples expected in [from, to) and not found. */
  missingSamples: number;
}

export interface CoverageInput {
  /** Step of the counts (ms); each count is of the samples in (t - step, t]. */
  stepMs: number;
  /** Evaluation times (ms) covering the period: start + step, …, until. */
  times: number[];
  /** Sample counts at those times; missing times count 0. */
  counts: Map<number, number>;
  expectedPerStep: number;
}

/**
 * Gaps: runs of consecutive steps with fewer samples than expected, merged; a run is a gap when
 * it misses at least two samples or holds a step with none (a single late scrape is jitter).
 */
export function findGaps(input: CoverageInput): Gap[] {
  const gaps: Gap[] = [];
  let run: { from: number; to: number; missing: number; empty: boolean } | null = null;
  const close = () => {
    if (run && (run.missing >= 2 || run.empty))
      gaps.push({ from: new Date(run.from).toISOString(), to: new Date(run.to).toISOString(), missingSamples: Math.round(run.missing) });
    run = null;
  };
  for (const t of input.times) {
    const count = input.counts.get(t) ?? 0;
    const missing = Math.max(0, input.expectedPerStep - count);
    if (missing > 0) {
      if (!run) run = { from: t - input.stepMs, to: t, missing: 0, empty: false };
      run.to = t;
      run.missing += missing;
      if (count === 0) run.empty = true;
    } else close();
  }
  close();
  return gaps;
}

/** Fraction of the expected samples present in [from, to) (counts at times in (from, to]), capped at 1. */
export function coverageBetween(
  input: CoverageInput,
  from: number,
  to: number,
): { ratio: number | null; expected: number; present: number } {
  let expected = 0;
  let present = 0;
  for (const t of input.times) {
    if (t <= from || t > to) continue;
    expected += input.expectedPerStep;
    present += Math.min(input.expectedPerStep, input.counts.get(t) ?? 0);
  }
  return { ratio: expected > 0 ? present / expected : null, expected, present };
}

/** The most frequent positive count (the samples a step holds when nothing is missing). */
export function typicalCount(counts: Iterable<number>): number | null {
  const freq = new Map<number, number>();
  for (const c of counts) if (c > 0) freq.set(c, (freq.get(c) ?? 0) + 1);
  let best: number | null = null;
  let bestN = 0;
  for (const [c, n] of freq) if (n > bestN || (n === bestN && best !== null && c > best)) [best, bestN] = [c, n];
  return best;
}
