/**
 * Dashboard 2, API Performance: request rate with its busiest hour, successful requests,
 * response time p95, error rate and the heaviest endpoints, all from the backend's
 * Prometheus series over the window.
 */
import { PromSample } from '../../../integrations/contracts';
import { bandVerdict } from '../../health/public';
import {
  Base,
  dashboard,
  failed,
  metric,
  promNumber,
  range,
  ReviewDashboard,
  ReviewInputs,
  ReviewMetric,
  round,
  unknown,
} from './review-metric';

function queries(input: ReviewInputs) {
  const w = range(input.window);
  return {
    total: `sum(increase(http_requests_total[${w}]))`,
    ok: `sum(increase(http_requests_total{status=~"[23].."}[${w}]))`,
    errors: `sum(increase(http_requests_total{status=~"5.."}[${w}]))`,
    p95: `histogram_quantile(0.95, sum by (le) (increase(http_request_duration_seconds_bucket[${w}])))`,
    apiErrors: `sum by (error_type) (increase(api_errors_total[${w}]))`,
    top: `topk(5, sum by (method, endpoint) (increase(http_requests_total[${w}])))`,
  };
}

type Queries = ReturnType<typeof queries>;

function bases(input: ReviewInputs, q: Queries) {
  const t = input.inventory.thresholds;
  const base = (metric: string, title: string, unit: string, target: string, source: string): Base => ({
    metric,
    title,
    unit,
    target,
    source,
  });
  return {
    rate: base(
      'request-rate',
      'Request rate',
      'req/s',
      'traffic visible (> 0); patterns per hour in details',
      `Prometheus: ${q.total} / window`,
    ),
    ok: base(
      'successful-requests',
      'Successful requests (2xx, 3xx)',
      'requests',
      'no sudden spikes or drops (informational)',
      `Prometheus: ${q.ok}`,
    ),
    p95: base('p95', 'Response time p95', 's', `< ${t.apiP95Seconds.fail} s (warn at ${t.apiP95Seconds.warn} s)`, `Prometheus: ${q.p95}`),
    errors: base(
      'error-rate',
      'Error rate (5xx)',
      '%',
      `< ${t.errorRatePercent.fail} % (warn at ${t.errorRatePercent.warn} %)`,
      `Prometheus: ${q.errors} / ${q.total}`,
    ),
    top: base('top-endpoints', 'Top endpoints', 'requests', 'the heaviest endpoints named (informational)', `Prometheus: ${q.top}`),
  };
}

type Bases = ReturnType<typeof bases>;

interface ApiReadings {
  total: number;
  ok?: number;
  errors?: number;
  p95?: number;
  apiErrors: PromSample[];
  top: PromSample[];
  perHour: { hourEnding: string; requests: number }[];
}

/** Every figure of the dashboard in one round of queries; total undefined when the backend has no series in the window. */
async function read(input: ReviewInputs, q: Queries): Promise<Omit<ApiReadings, 'total'> & { total?: number }> {
  const at = { timeoutMs: input.timeoutMs, time: input.window.to };
  const [total, ok, errors, p95, apiErrors, top, hourly] = await Promise.all([
    promNumber(input, q.total),
    promNumber(input, q.ok),
    promNumber(input, q.errors),
    promNumber(input, q.p95),
    input.prometheus.query(q.apiErrors, at),
    input.prometheus.query(q.top, at),
    input.prometheus.queryRange(
      'sum(increase(http_requests_total[1h]))',
      { start: new Date(input.window.from.getTime() + 3600_000), end: input.window.to, stepSeconds: 3600 },
      { timeoutMs: input.timeoutMs },
    ),
  ]);
  const perHour = Array.from(hourly[0]?.times ?? [], (time, i) => ({
    hourEnding: new Date(time * 1000).toISOString(),
    requests: Math.round(hourly[0].values[i]),
  }));
  return { total, ok, errors, p95, apiErrors, top, perHour };
}

function rateMetric(input: ReviewInputs, base: Base, r: ApiReadings): ReviewMetric {
  const seconds = (input.window.to.getTime() - input.window.from.getTime()) / 1000;
  const rate = r.total / seconds;
  const busiest = r.perHour.reduce<{ hourEnding: string; requests: number } | undefined>(
    (a, b) => (!a || b.requests > a.requests ? b : a),
    undefined,
  );
  const observed =
    r.total > 0
      ? `${round(rate, 2)} req/s (${Math.round(r.total)} requests)${busiest ? `; busiest hour ending ${busiest.hourEnding} (${busiest.requests})` : ''}`
      : 'no requests in the window';
  return metric(base, r.total > 0 ? 'pass' : 'warn', rate, observed, { requests: Math.round(r.total), perHour: r.perHour });
}

function topMetric(base: Base, r: ApiReadings): ReviewMetric {
  const list = r.top
    .map((s) => ({
      method: s.metric.method ?? '',
      endpoint: s.metric.endpoint ?? '',
      requests: Math.round(s.value),
      sharePercent: r.total > 0 ? round((s.value / r.total) * 100, 1) : 0,
    }))
    .sort((a, b) => b.requests - a.requests);
  if (!list.length) return unknown(base, 'no requests by endpoint in the window');
  const observed = list.map((e) => `${e.method} ${e.endpoint} ${e.requests} (${e.sharePercent} %)`).join('; ');
  return metric(base, 'pass', list[0].requests, observed, { endpoints: list });
}

function judge(input: ReviewInputs, b: Bases, r: ApiReadings): ReviewMetric[] {
  const t = input.inventory.thresholds;
  const ok = r.ok ?? 0;
  const errors = r.errors ?? 0;
  const errorPercent = r.total > 0 ? (errors / r.total) * 100 : 0;
  const apiErrorsByType = Object.fromEntries(r.apiErrors.map((s) => [s.metric.error_type ?? 'unknown', Math.round(s.value)]));
  return [
    rateMetric(input, b.rate, r),
    metric(b.ok, 'pass', ok, `${Math.round(ok)} (${r.total > 0 ? round((ok / r.total) * 100, 2) : 0} % of all requests)`),
    r.p95 === undefined
      ? unknown(b.p95, 'no http_request_duration_seconds observations in the window')
      : metric(b.p95, bandVerdict(r.p95, t.apiP95Seconds), r.p95, `${round(r.p95, 3)} s`),
    metric(
      b.errors,
      bandVerdict(errorPercent, t.errorRatePercent),
      errorPercent,
      `${round(errorPercent, 3)} % (${Math.round(errors)} of ${Math.round(r.total)} requests)`,
      { apiErrorsByType },
    ),
    topMetric(b.top, r),
  ];
}

export async function apiPerformance(input: ReviewInputs): Promise<ReviewDashboard> {
  const q = queries(input);
  const b = bases(input, q);
  const all = [b.rate, b.ok, b.p95, b.errors, b.top];
  try {
    const readings = await read(input, q);
    if (readings.total === undefined) {
      const why = 'Prometheus has no http_requests_total series in the window (is the backend scraped?)';
      return dashboard(
        'api-performance',
        'API Performance',
        all.map((base) => unknown(base, why)),
      );
    }
    return dashboard('api-performance', 'API Performance', judge(input, b, { ...readings, total: readings.total }));
  } catch (error) {
    return dashboard(
      'api-performance',
      'API Performance',
      all.map((base) => failed(base, error, 'Prometheus')),
    );
  }
}
