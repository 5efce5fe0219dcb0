/**
 * Runs a report's Prometheus range queries: each distinct query once (by text, range, step and
 * offset), at most `concurrency` requests in flight, in the order they were asked for (ask for
 * the heaviest first). A heavy query can be split by time into chunks: disjoint runs of
 * evaluation steps, so that Prometheus evaluates it on several cores and still evaluates every
 * step once; each chunk's series come back as they are (no copy). Records what ran, for the
 * report's "computed from".
 */
import { PrometheusPort } from '../../integrations/contracts';

export interface RangeSpec {
  promql: string;
  /** First and last evaluation times (ms), on the step grid. */
  start: number;
  end: number;
  stepSeconds: number;
  /**
   * Evaluate this many ms after each grid time (values are still keyed by the grid time): a
   * range selector then never starts exactly on a sample aligned to the grid (Prometheus 2
   * includes both ends of a range).
   */
  offsetMs?: number;
  /** Split the range into up to this many chunks of whole steps (default 1: one request). */
  chunks?: number;
}

/**
 * One series of one chunk: its labels, and its finite values at evaluation times (ms, ascending)
 * side by side. A query split into chunks gives each series once per chunk.
 */
export interface Series {
  metric: Record<string, string>;
  times: Float64Array;
  values: Float64Array;
}

export interface QueryRecord {
  promql: string;
  start: string;
  end: string;
  stepSeconds: number;
  chunks: number;
  /** Series in the answer (the most any chunk had). */
  series: number;
  points: number;
  /** From the first chunk's request to the last chunk's parsed answer (waiting for a slot before the first not included). */
  durationMs: number;
}

export interface RunnerOptions {
  /** Requests in flight at once. */
  concurrency: number;
  timeoutMs: number;
}

/** Splits [start, end] (ms, on a grid of stepMs) into at most `chunks` disjoint runs of whole steps. */
export function splitRange(start: number, end: number, stepMs: number, chunks: number): { start: number; end: number }[] {
  if (end < start) return [];
  const steps = Math.floor((end - start) / stepMs) + 1;
  const per = Math.ceil(steps / Math.max(1, Math.min(chunks, steps)));
  const parts: { start: number; end: number }[] = [];
  for (let first = 0; first < steps; first += per)
    parts.push({ start: start + first * stepMs, end: start + Math.min(steps - 1, first + per - 1) * stepMs });
  return parts;
}

export class PromQueryRunner {
  private readonly done = new Map<string, Promise<Series[]>>();
  readonly records: QueryRecord[] = [];
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly prometheus: PrometheusPort,
    private readonly options: RunnerOptions,
  ) {}

  /** The series of a range query; the same query asked twice runs once. An empty range asks nothing. */
  range(spec: RangeSpec): Promise<Series[]> {
    if (spec.end < spec.start) return Promise.resolve([]);
    const key = `${spec.promql}\u0000${spec.start}\u0000${spec.end}\u0000${spec.stepSeconds}\u0000${spec.offsetMs ?? 0}`;
    let pending = this.done.get(key);
    if (!pending) {
      pending = this.run(spec);
      this.done.set(key, pending);
    }
    return pending;
  }

  private async slot<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.options.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  private async run(spec: RangeSpec): Promise<Series[]> {
    const offset = spec.offsetMs ?? 0;
    const parts = splitRange(spec.start, spec.end, spec.stepSeconds * 1000, spec.chunks ?? 1);
    let started = 0;
    const answers = await Promise.all(
      parts.map((part) =>
        this.slot(() => {
          started ||= Date.now();
          return this.prometheus.queryRange(
            spec.promql,
            { start: new Date(part.start + offset), end: new Date(part.end + offset), stepSeconds: spec.stepSeconds },
            { timeoutMs: this.options.timeoutMs },
          );
        }),
      ),
    );
    // A chunk's series are used as they came (times turned into ms in place, non-finite values
    // dropped): a series appears once per chunk, in time order, and callers sum by labels.
    const out: Series[] = [];
    let series = 0;
    let points = 0;
    for (const answer of answers) {
      series = Math.max(series, answer.length);
      for (const item of answer) {
        const { times, values } = item;
        let n = 0;
        for (let i = 0; i < times.length; i++) {
          const v = values[i];
          if (!Number.isFinite(v)) continue;
          times[n] = Math.round(times[i] * 1000) - offset;
          values[n++] = v;
        }
        points += n;
        out.push({ metric: item.metric, times: times.subarray(0, n), values: values.subarray(0, n) });
      }
    }
    this.records.push({
      promql: spec.promql,
      start: new Date(spec.start).toISOString(),
      end: new Date(spec.end).toISOString(),
      stepSeconds: spec.stepSeconds,
      chunks: parts.length,
      series,
      points,
      durationMs: Date.now() - started,
    });
    return out;
  }
}
