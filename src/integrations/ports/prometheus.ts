/** The port of prometheus. */
import { CallOptions } from '../integration-error';

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusPort {
  /** Instant query; vector results as numbers. */
  query(promql: string, options: CallOptions & { time?: Date }): Promise<PromSample[]>;
  /** Range query; each series' evaluation times (unix seconds) and values side by side. */
  queryRange(
    promql: string,
    range: { start: Date; end: Date; stepSeconds: number },
    options: CallOptions,
  ): Promise<{ metric: Record<string, string>; times: Float64Array; values: Float64Array }[]>;
}
