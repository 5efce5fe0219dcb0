/**
 * What the daily review's five dashboards share: the metric and dashboard shapes, the inputs
 * (adapters, window, whether the window ends now) and the small helpers that turn a reading
 * into a judged metric. Each dashboard is built in its own *.dashboard.ts file.
 */
import { Inventory } from '../../../config/inventory.schema';
import {
  DockerPort,
  HostResourcesPort,
  PathDiskUsage,
  PrometheusPort,
  TargetDatabasePort,
  TimeWindow,
} from '../../../integrations/contracts';
import { describeFailure, Verdict, worst } from '../../health/public';

/** One metric of a dashboard: its value, its target and the verdict against it, and where it came from. */
export interface ReviewMetric {
  /** Stable id within its dashboard, e.g. `p95`, `qc-pass-rate`. */
  metric: string;
  title: string;
  verdict: Verdict;
  /** The number judged (null when unknown or when there was nothing to measure). */
  value: number | null;
  unit: string;
  /** What was observed, in words; for `unknown`, why. */
  observed: string;
  target: string;
  /** Where the value came from (system and query or table). */
  source: string;
  details?: Record<string, unknown>;
}

export interface ReviewDashboard {
  dashboard: 'system-overview' | 'api-performance' | 'database-health' | 'qt09-protocol' | 'quality-control';
  title: string;
  verdict: Verdict;
  metrics: ReviewMetric[];
}

export interface ReviewInputs {
  inventory: Inventory;
  prometheus: PrometheusPort;
  docker: DockerPort;
  /** The ERP host's disks (its node exporter), not the control plane's. */
  host: HostResourcesPort;
  db: TargetDatabasePort;
  window: TimeWindow;
  /** The window ends now: readings of the present (containers, connections, disk) describe it. */
  current: boolean;
  /** The previous review's counters (transaction rate over the day), when there is one. */
  previousActivity?: { commits: number; rollbacks: number; statsSince: string; at: string };
  /** Per call to a system. */
  timeoutMs: number;
}

export const TREND_DAYS = 7;
export const NOT_NOW = 'a reading of the present: a review of a past day cannot have it';

export type Base = Pick<ReviewMetric, 'metric' | 'title' | 'unit' | 'target' | 'source'>;

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function metric(
  base: Base,
  verdict: Verdict,
  value: number | null,
  observed: string,
  details?: Record<string, unknown>,
): ReviewMetric {
  return {
    ...base,
    verdict,
    value: value === null || !Number.isFinite(value) ? null : round(value, 4),
    observed,
    ...(details ? { details } : {}),
  };
}

export function unknown(base: Base, why: string, details?: Record<string, unknown>): ReviewMetric {
  return metric(base, 'unknown', null, why, details);
}

export function failed(base: Base, error: unknown, system: string): ReviewMetric {
  return unknown(base, `${system}: ${describeFailure(error).observed}`);
}

export function dashboard(id: ReviewDashboard['dashboard'], title: string, metrics: ReviewMetric[]): ReviewDashboard {
  return { dashboard: id, title, verdict: worst(metrics.map((m) => m.verdict)), metrics };
}

/** A Prometheus range covering the window, e.g. `86400s`. */
export function range(window: TimeWindow): string {
  return `${Math.max(1, Math.round((window.to.getTime() - window.from.getTime()) / 1000))}s`;
}

/** One number from an instant query at the window's end; undefined when the result is empty. */
export async function promNumber(input: ReviewInputs, promql: string): Promise<number | undefined> {
  const samples = await input.prometheus.query(promql, { timeoutMs: input.timeoutMs, time: input.window.to });
  const value = samples[0]?.value;
  return value === undefined || Number.isNaN(value) ? undefined : value;
}

/** The disk usage of the inventory's data paths on the ERP host; throws when the host cannot be read or a path is not covered. */
export async function diskReadings(input: ReviewInputs): Promise<PathDiskUsage[]> {
  const usages = await input.host.diskUsage(input.inventory.stack.dataPaths, { timeoutMs: input.timeoutMs });
  const missing = usages.find((u): u is { path: string; error: string } => 'error' in u);
  if (missing) throw new Error(missing.error);
  return usages as PathDiskUsage[];
}
