/**
 * Runs a report's Prometheus range queries: each distinct query once (by text, range and step),
 * long ranges split into chunks evaluated concurrently (bounded), chunks merged back into series.
 * Records what ran, for the report's "computed from".
 */
import { PrometheusPort } from '../../integrations/contracts';
import { mapBounded } from './report-math';

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
}

/** One series: its labels and values by evaluation time (ms). */
export interface Series {
  metric: Record<string, string>;
  values: Map<number, number>;
}

export interface QueryRecord {
  promql: string;
  start: string;
  end: string;
  stepSeconds: number;
  chunks: number;
  series: number;
  points: number;
  durationMs: number;
}

export interface RunnerOptions {
  concurrency: number;
  /** A range of more steps than this is split into `chunks` chunks, evaluated concurrently. */
  minStepsPerChunk: number;
  chunks: number;
  timeoutMs: number;
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

  /** The series of a range query; the same query asked twice runs once. */
  range(spec: RangeSpec): Promise<Series[]> {
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
    const started = Date.now();
    const stepMs = spec.stepSeconds * 1000;
    const chunks: { start: number; end: number }[] = [];
    const offset = spec.offsetMs ?? 0;
    if (spec.end >= spec.start) {
      const steps = Math.floor((spec.end - spec.start) / stepMs) + 1;
      const span = stepMs * Math.max(this.options.minStepsPerChunk, Math.ceil(steps / this.options.chunks));
      for (let s = spec.start; s <= spec.end; s += span) chunks.push({ start: s, end: Math.min(spec.end, s + span - stepMs) });
    }
    const parts = await mapBounded(chunks, chunks.length, (chunk) =>
      this.slot(() => this.prometheus.queryRange(spec.promql, { start: new Date(chunk.start + offset), end: new Date(chunk.end + offset), stepSeconds: spec.stepSeconds }, { timeoutMs: this.options.timeoutMs })),
    );
    const merged = new Map<string, Series>();
    let points = 0;
    for (const part of parts) {
      for (const item of part) {
        const key = JSON.stringify(Object.entries(item.metric).sort(([a], [b]) => a.localeCompare(b)));
        let series = merged.get(key);
        if (!series) merged.set(key, (series = { metric: item.metric, values: new Map() }));
        for (const [t, v] of item.values) {
          if (!Number.isFinite(v)) continue;
          series.values.set(Math.round(t * 1000) - offset, v);
          points++;
        }
      }
    }
    this.records.push({
      promql: spec.promql,
      start: new Date(spec.start).toISOString(),
      end: new Date(spec.end).toISOString(),
      stepSeconds: spec.stepSeconds,
      chunks: chunks.length,
      series: merged.size,
      points,
      durationMs: Date.now() - started,
    });
    return [...merged.values()];
  }
}
