import { statfs } from 'node:fs/promises';
import { Inventory } from '../../../config/inventory.schema';
import {
  ContainerStats,
  DatabaseActivity,
  DockerPort,
  PrometheusPort,
  TargetDatabasePort,
  TimeWindow,
} from '../../../integrations/contracts';
import { bandVerdict, describeFailure, Verdict, worst } from '../../health/public';

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
  db: TargetDatabasePort;
  window: TimeWindow;
  /** The window ends now: readings of the present (containers, connections, disk) describe it. */
  current: boolean;
  /** The previous review's counters (transaction rate over the day), when there is one. */
  previousActivity?: { commits: number; rollbacks: number; statsSince: string; at: string };
  /** Per call to a system. */
  timeoutMs: number;
}

const TREND_DAYS = 7;
const NOT_NOW = 'a reading of the present: a review of a past day cannot have it';

type Base = Pick<ReviewMetric, 'metric' | 'title' | 'unit' | 'target' | 'source'>;

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function metric(base: Base, verdict: Verdict, value: number | null, observed: string, details?: Record<string, unknown>): ReviewMetric {
  return {
    ...base,
    verdict,
    value: value === null || !Number.isFinite(value) ? null : round(value, 4),
    observed,
    ...(details ? { details } : {}),
  };
}

function unknown(base: Base, why: string, details?: Record<string, unknown>): ReviewMetric {
  return metric(base, 'unknown', null, why, details);
}

function failed(base: Base, error: unknown, system: string): ReviewMetric {
  return unknown(base, `${system}: ${describeFailure(error).observed}`);
}

function dashboard(id: ReviewDashboard['dashboard'], title: string, metrics: ReviewMetric[]): ReviewDashboard {
  return { dashboard: id, title, verdict: worst(metrics.map((m) => m.verdict)), metrics };
}

/** A Prometheus range covering the window, e.g. `86400s`. */
function range(window: TimeWindow): string {
  return `${Math.max(1, Math.round((window.to.getTime() - window.from.getTime()) / 1000))}s`;
}

/** One number from an instant query at the window's end; undefined when the result is empty. */
async function promNumber(input: ReviewInputs, promql: string): Promise<number | undefined> {
  const samples = await input.prometheus.query(promql, { timeoutMs: input.timeoutMs, time: input.window.to });
  const value = samples[0]?.value;
  return value === undefined || Number.isNaN(value) ? undefined : value;
}

async function diskReadings(inventory: Inventory): Promise<{ path: string; usedPercent: number; freeGb: number }[]> {
  return Promise.all(
    inventory.stack.dataPaths.map(async (path) => {
      const fs = await statfs(path);
      // As df computes it: used / (used + available to unprivileged users).
      const used = (fs.blocks - fs.bfree) * fs.bsize;
      const available = fs.bavail * fs.bsize;
      return { path, usedPercent: used + available > 0 ? (used / (used + available)) * 100 : 0, freeGb: available / 1e9 };
    }),
  );
}

// ---- 1. System Overview ------------------------------------------------------------------------
export async function systemOverview(input: ReviewInputs): Promise<ReviewDashboard> {
  const t = input.inventory.thresholds;
  const containers = input.inventory.stack.services.map((s) => s.container);
  const cpuBase: Base = {
    metric: 'cpu',
    title: 'CPU usage',
    unit: '%',
    target: `< ${t.cpuPercent.fail} % (warn at ${t.cpuPercent.warn} %)`,
    source: `docker stats of the stack's ${containers.length} containers`,
  };
  const memBase: Base = {
    metric: 'memory',
    title: 'Memory usage',
    unit: '%',
    target: `< ${t.memoryPercent.fail} % (warn at ${t.memoryPercent.warn} %)`,
    source: cpuBase.source,
  };
  const diskBase: Base = {
    metric: 'disk',
    title: 'Disk usage',
    unit: '%',
    target: `< ${t.diskPercent.fail} % used (warn at ${t.diskPercent.warn} %)`,
    source: `statfs of stack.dataPaths (${input.inventory.stack.dataPaths.join(', ')})`,
  };
  const netSelector = '{device!~"lo|veth.*|docker.*|br-.*"}';
  const w = range(input.window);
  const netQuery = `sum(rate(node_network_receive_bytes_total${netSelector}[${w}])) + sum(rate(node_network_transmit_bytes_total${netSelector}[${w}]))`;
  const netBase: Base = {
    metric: 'network',
    title: 'Network I/O',
    unit: 'bytes/s',
    target: 'normal throughput visible (> 0)',
    source: `Prometheus: ${netQuery}`,
  };
  const loadQuery = `avg(avg_over_time(node_load1[${w}]))`;
  const loadBase: Base = {
    metric: 'load',
    title: 'Load average (1 min, mean over the window)',
    unit: '',
    target: 'correlates with the user count (informational)',
    source: `Prometheus: ${loadQuery}`,
  };
  const noNode = 'Prometheus has no node-exporter series (node_*): no node exporter is scraped';

  const containerMetrics = async (): Promise<ReviewMetric[]> => {
    if (!input.current) return [unknown(cpuBase, NOT_NOW), unknown(memBase, NOT_NOW)];
    const results = await Promise.allSettled(containers.map((c) => input.docker.stats(c, { timeoutMs: input.timeoutMs })));
    const known = results.filter((r): r is PromiseFulfilledResult<ContainerStats> => r.status === 'fulfilled').map((r) => r.value);
    if (known.length === 0) {
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      const why = rejected ? `Docker engine: ${describeFailure(rejected.reason).observed}` : 'no containers in the inventory';
      return [unknown(cpuBase, why), unknown(memBase, why)];
    }
    const partial = known.length < containers.length ? ` (${known.length} of ${containers.length} containers answered)` : '';
    const cpu = known.reduce((sum, s) => sum + s.cpuPercent, 0);
    const memory = known.reduce((sum, s) => sum + s.memoryBytes, 0);
    const limit = Math.max(...known.map((s) => s.memoryLimitBytes));
    const memPercent = limit > 0 ? (memory / limit) * 100 : 0;
    return [
      metric(cpuBase, bandVerdict(cpu, t.cpuPercent), cpu, `${round(cpu, 1)} % of the machine${partial}`),
      metric(
        memBase,
        bandVerdict(memPercent, t.memoryPercent),
        memPercent,
        `${round(memPercent, 1)} % (${Math.round(memory / 2 ** 20)} MiB of ${Math.round(limit / 2 ** 20)} MiB)${partial}`,
      ),
    ];
  };

  const disk = async (): Promise<ReviewMetric> => {
    if (!input.current) return unknown(diskBase, NOT_NOW);
    try {
      const readings = await diskReadings(input.inventory);
      const fullest = readings.reduce((a, b) => (b.usedPercent > a.usedPercent ? b : a));
      return metric(
        diskBase,
        bandVerdict(fullest.usedPercent, t.diskPercent),
        fullest.usedPercent,
        `${round(fullest.usedPercent, 1)} % used on ${fullest.path}`,
        {
          paths: readings.map((r) => ({ path: r.path, usedPercent: round(r.usedPercent, 1), freeGb: round(r.freeGb, 1) })),
        },
      );
    } catch (error) {
      return unknown(diskBase, `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };

  const node = async (base: Base, promql: string, judge: (v: number) => ReviewMetric, extraWhy: string): Promise<ReviewMetric> => {
    try {
      const value = await promNumber(input, promql);
      return value === undefined ? unknown(base, `${noNode}; ${extraWhy}`) : judge(value);
    } catch (error) {
      return failed(base, error, 'Prometheus');
    }
  };

  const [cpuMem, diskMetric, network, load] = await Promise.all([
    containerMetrics(),
    disk(),
    node(
      netBase,
      netQuery,
      (v) =>
        metric(netBase, v > 0 ? 'pass' : 'warn', v, v > 0 ? `${round(v / 1e6, 3)} MB/s in and out (mean over the window)` : 'no traffic'),
      "the stack's containers use the host network, so docker stats has no network counters for them",
    ),
    node(loadBase, loadQuery, (v) => metric(loadBase, 'pass', v, `${round(v, 2)}`), 'the Docker engine reports no load average'),
  ]);
  return dashboard('system-overview', 'System Overview', [...cpuMem, diskMetric, network, load]);
}

// ---- 2. API Performance ------------------------------------------------------------------------
export async function apiPerformance(input: ReviewInputs): Promise<ReviewDashboard> {
  const t = input.inventory.thresholds;
  const w = range(input.window);
  const seconds = (input.window.to.getTime() - input.window.from.getTime()) / 1000;
  const q = {
    total: `sum(increase(http_requests_total[${w}]))`,
    ok: `sum(increase(http_requests_total{status=~"[23].."}[${w}]))`,
    errors: `sum(increase(http_requests_total{status=~"5.."}[${w}]))`,
    p95: `histogram_quantile(0.95, sum by (le) (increase(http_request_duration_seconds_bucket[${w}])))`,
    apiErrors: `sum by (error_type) (increase(api_errors_total[${w}]))`,
    top: `topk(5, sum by (method, endpoint) (increase(http_requests_total[${w}])))`,
  };
  const rateBase: Base = {
    metric: 'request-rate',
    title: 'Request rate',
    unit: 'req/s',
    target: 'traffic visible (> 0); patterns per hour in details',
    source: `Prometheus: ${q.total} / window`,
  };
  const okBase: Base = {
    metric: 'successful-requests',
    title: 'Successful requests (2xx, 3xx)',
    unit: 'requests',
    target: 'no sudden spikes or drops (informational)',
    source: `Prometheus: ${q.ok}`,
  };
  const p95Base: Base = {
    metric: 'p95',
    title: 'Response time p95',
    unit: 's',
    target: `< ${t.apiP95Seconds.fail} s (warn at ${t.apiP95Seconds.warn} s)`,
    source: `Prometheus: ${q.p95}`,
  };
  const errBase: Base = {
    metric: 'error-rate',
    title: 'Error rate (5xx)',
    unit: '%',
    target: `< ${t.errorRatePercent.fail} % (warn at ${t.errorRatePercent.warn} %)`,
    source: `Prometheus: ${q.errors} / ${q.total}`,
  };
  const topBase: Base = {
    metric: 'top-endpoints',
    title: 'Top endpoints',
    unit: 'requests',
    target: 'the heaviest endpoints named (informational)',
    source: `Prometheus: ${q.top}`,
  };
  const all = [rateBase, okBase, p95Base, errBase, topBase];
  try {
    const [total, ok, errors, p95, apiErrors, top, hourly] = await Promise.all([
      promNumber(input, q.total),
      promNumber(input, q.ok),
      promNumber(input, q.errors),
      promNumber(input, q.p95),
      input.prometheus.query(q.apiErrors, { timeoutMs: input.timeoutMs, time: input.window.to }),
      input.prometheus.query(q.top, { timeoutMs: input.timeoutMs, time: input.window.to }),
      input.prometheus.queryRange(
        'sum(increase(http_requests_total[1h]))',
        { start: new Date(input.window.from.getTime() + 3600_000), end: input.window.to, stepSeconds: 3600 },
        { timeoutMs: input.timeoutMs },
      ),
    ]);
    if (total === undefined) {
      const why = 'Prometheus has no http_requests_total series in the window (is the backend scraped?)';
      return dashboard(
        'api-performance',
        'API Performance',
        all.map((b) => unknown(b, why)),
      );
    }
    const perHour = Array.from(hourly[0]?.times ?? [], (at, i) => ({
      hourEnding: new Date(at * 1000).toISOString(),
      requests: Math.round(hourly[0].values[i]),
    }));
    const rate = total / seconds;
    const errorPercent = total > 0 ? ((errors ?? 0) / total) * 100 : 0;
    const topList = top
      .map((s) => ({
        method: s.metric.method ?? '',
        endpoint: s.metric.endpoint ?? '',
        requests: Math.round(s.value),
        sharePercent: total > 0 ? round((s.value / total) * 100, 1) : 0,
      }))
      .sort((a, b) => b.requests - a.requests);
    const busiest = perHour.reduce<{ hourEnding: string; requests: number } | undefined>(
      (a, b) => (!a || b.requests > a.requests ? b : a),
      undefined,
    );
    return dashboard('api-performance', 'API Performance', [
      metric(
        rateBase,
        total > 0 ? 'pass' : 'warn',
        rate,
        total > 0
          ? `${round(rate, 2)} req/s (${Math.round(total)} requests)${busiest ? `; busiest hour ending ${busiest.hourEnding} (${busiest.requests})` : ''}`
          : 'no requests in the window',
        { requests: Math.round(total), perHour },
      ),
      metric(okBase, 'pass', ok ?? 0, `${Math.round(ok ?? 0)} (${total > 0 ? round(((ok ?? 0) / total) * 100, 2) : 0} % of all requests)`),
      p95 === undefined
        ? unknown(p95Base, 'no http_request_duration_seconds observations in the window')
        : metric(p95Base, bandVerdict(p95, t.apiP95Seconds), p95, `${round(p95, 3)} s`),
      metric(
        errBase,
        bandVerdict(errorPercent, t.errorRatePercent),
        errorPercent,
        `${round(errorPercent, 3)} % (${Math.round(errors ?? 0)} of ${Math.round(total)} requests)`,
        {
          apiErrorsByType: Object.fromEntries(apiErrors.map((s) => [s.metric.error_type ?? 'unknown', Math.round(s.value)])),
        },
      ),
      topList.length
        ? metric(
            topBase,
            'pass',
            topList[0].requests,
            topList.map((e) => `${e.method} ${e.endpoint} ${e.requests} (${e.sharePercent} %)`).join('; '),
            { endpoints: topList },
          )
        : unknown(topBase, 'no requests by endpoint in the window'),
    ]);
  } catch (error) {
    return dashboard(
      'api-performance',
      'API Performance',
      all.map((b) => failed(b, error, 'Prometheus')),
    );
  }
}

// ---- 3. Database Health --------------------------------------------------------------------------
export async function databaseHealth(input: ReviewInputs): Promise<{ dashboard: ReviewDashboard; activity?: DatabaseActivity }> {
  const t = input.inventory.thresholds;
  const o = { timeoutMs: input.timeoutMs };
  const connBase: Base = {
    metric: 'connections',
    title: 'Connection count',
    unit: 'connections',
    target: `< ${t.dbConnections.fail} of ${t.dbConnections.max} (warn at ${t.dbConnections.warn})`,
    source: 'ERP database: pg_stat_activity, max_connections',
  };
  const slowBase: Base = {
    metric: 'slow-queries',
    title: 'Slow queries (mean > 100 ms)',
    unit: 'queries',
    target: 'near 0 (0 passes, any warns)',
    source: 'ERP database: v_slow_queries or pg_stat_statements (since its last reset)',
  };
  const hitBase: Base = {
    metric: 'cache-hit-rate',
    title: 'Cache hit rate',
    unit: '%',
    target: `> ${t.cacheHitPercentMin} %`,
    source: 'ERP database: pg_stat_database blks_hit / (blks_hit + blks_read)',
  };
  const xactBase: Base = {
    metric: 'transaction-rate',
    title: 'Transaction rate',
    unit: 'tx/s',
    target: 'patterns monitored (informational)',
    source: 'ERP database: pg_stat_database xact_commit + xact_rollback',
  };
  const freeBase: Base = {
    metric: 'free-disk',
    title: 'Free disk space',
    unit: 'GB',
    target: `> ${t.freeDiskGbMin} GB free`,
    source: `statfs of stack.dataPaths (${input.inventory.stack.dataPaths.join(', ')})`,
  };
  if (!input.current) {
    return {
      dashboard: dashboard(
        'database-health',
        'Database Health',
        [connBase, slowBase, hitBase, xactBase, freeBase].map((b) => unknown(b, NOT_NOW)),
      ),
    };
  }
  const [conn, slow, activity, disk] = await Promise.allSettled([
    input.db.connectionCounts(o),
    input.db.slowQueries(20, o),
    input.db.databaseActivity(o),
    diskReadings(input.inventory),
  ]);
  const metrics: ReviewMetric[] = [];
  if (conn.status === 'fulfilled') {
    const c = conn.value;
    metrics.push(
      metric(connBase, bandVerdict(c.total, t.dbConnections), c.total, `${c.total} of max ${c.max}`, { byDatabase: c.byDatabase }),
    );
  } else metrics.push(failed(connBase, conn.reason, 'ERP database'));
  if (slow.status === 'fulfilled') {
    const s = slow.value;
    if (s.source === 'none') metrics.push(unknown(slowBase, s.note ?? 'neither v_slow_queries nor pg_stat_statements can be read'));
    else
      metrics.push(
        metric(
          { ...slowBase, source: `ERP database: ${s.source}` },
          s.queries.length === 0 ? 'pass' : 'warn',
          s.queries.length,
          s.queries.length
            ? `${s.queries.length}${s.queries.length >= 20 ? '+' : ''} statements, slowest mean ${s.queries[0].meanMs} ms`
            : 'none',
          { slowest: s.queries.slice(0, 5) },
        ),
      );
  } else metrics.push(failed(slowBase, slow.reason, 'ERP database'));
  let reading: DatabaseActivity | undefined;
  if (activity.status === 'fulfilled') {
    const a = (reading = activity.value);
    const blocks = a.blocksHit + a.blocksRead;
    const hit = blocks > 0 ? (a.blocksHit / blocks) * 100 : null;
    metrics.push(
      hit === null
        ? unknown(hitBase, 'no blocks read since the statistics began')
        : metric(hitBase, hit > t.cacheHitPercentMin ? 'pass' : 'fail', hit, `${round(hit, 2)} % since ${a.statsSince.toISOString()}`, {
            blocksHit: a.blocksHit,
            blocksRead: a.blocksRead,
            since: a.statsSince.toISOString(),
          }),
    );
    const xacts = a.commits + a.rollbacks;
    const prev = input.previousActivity;
    const counters = { commits: a.commits, rollbacks: a.rollbacks, statsSince: a.statsSince.toISOString(), at: a.at.toISOString() };
    const prevXacts = prev ? prev.commits + prev.rollbacks : 0;
    if (prev && prev.statsSince === counters.statsSince && xacts >= prevXacts && a.at.getTime() > Date.parse(prev.at)) {
      const secs = (a.at.getTime() - Date.parse(prev.at)) / 1000;
      const rate = (xacts - prevXacts) / secs;
      metrics.push(
        metric(xactBase, 'pass', rate, `${round(rate, 2)} tx/s since the previous review (${prev.at}): ${xacts - prevXacts} transactions`, {
          counters,
          since: prev.at,
        }),
      );
    } else {
      const secs = Math.max(1, (a.at.getTime() - a.statsSince.getTime()) / 1000);
      const rate = xacts / secs;
      metrics.push(
        metric(
          xactBase,
          'pass',
          rate,
          `${round(rate, 2)} tx/s on average since the statistics began (${counters.statsSince}); the next review measures from this one`,
          { counters, since: counters.statsSince },
        ),
      );
    }
  } else {
    metrics.push(failed(hitBase, activity.reason, 'ERP database'), failed(xactBase, activity.reason, 'ERP database'));
  }
  if (disk.status === 'fulfilled') {
    const least = disk.value.reduce((a, b) => (b.freeGb < a.freeGb ? b : a));
    metrics.push(
      metric(
        freeBase,
        least.freeGb > t.freeDiskGbMin ? 'pass' : 'fail',
        least.freeGb,
        `${round(least.freeGb, 1)} GB free on ${least.path}`,
        { paths: disk.value.map((r) => ({ path: r.path, freeGb: round(r.freeGb, 1) })) },
      ),
    );
  } else metrics.push(unknown(freeBase, `cannot read: ${(disk.reason as NodeJS.ErrnoException)?.code ?? (disk.reason as Error)?.message}`));
  return { dashboard: dashboard('database-health', 'Database Health', metrics), activity: reading };
}

// ---- 4. QT-09 Protocol ---------------------------------------------------------------------------
export async function qt09Protocol(input: ReviewInputs): Promise<ReviewDashboard> {
  const w = range(input.window);
  const violationsQuery = `sum(increase(qt09_line_clearance_violations_total[${w}]))`;
  const failuresQuery = `sum(increase(transfer_handshake_failures_total[${w}]))`;
  const clearBase: Base = {
    metric: 'line-clearance',
    title: 'Line clearance checks',
    unit: '%',
    target: 'all passing (100 %), no violation',
    source: `ERP database: transfer_logs (is_line_clear, line_checked_at); Prometheus: ${violationsQuery}`,
  };
  const handBase: Base = {
    metric: 'transfer-handshakes',
    title: 'Transfer handshake success rate',
    unit: '%',
    target: '100 %',
    source: `ERP database: transfer_logs (accepted / accepted + cancelled before acceptance); Prometheus: ${failuresQuery}`,
  };
  const segBase: Base = {
    metric: 'segregation-violations',
    title: 'Segregation violations',
    unit: 'violations',
    target: '0 recorded',
    source: 'ERP database: alert_logs (SEGREGASI_ALARM), segregasi_acknowledgement',
  };
  const protoBase: Base = {
    metric: 'protocol-errors',
    title: 'Protocol errors',
    unit: 'errors',
    target: '0 recorded',
    source: 'ERP database: transfer_logs records that break the QT-09 state machine',
  };
  const [summary, violations, failures] = await Promise.allSettled([
    input.db.qt09Summary(input.window, { timeoutMs: input.timeoutMs }),
    promNumber(input, violationsQuery),
    promNumber(input, failuresQuery),
  ]);
  const metricViolations = violations.status === 'fulfilled' ? violations.value : undefined;
  const metricFailures = failures.status === 'fulfilled' ? failures.value : undefined;
  const fromMetrics = {
    prometheus: {
      lineClearanceViolations: metricViolations ?? null,
      handshakeFailures: metricFailures ?? null,
      ...(violations.status === 'rejected' ? { error: describeFailure(violations.reason).observed } : {}),
    },
  };
  if (summary.status === 'rejected') {
    const why = `ERP database: ${describeFailure(summary.reason).observed}`;
    const byMetric = (base: Base, value: number | undefined, what: string): ReviewMetric =>
      value === undefined
        ? unknown(base, why)
        : metric(
            { ...base, unit: what, source: base.source.replace(/^.*Prometheus: /, 'Prometheus: ') },
            Math.round(value) === 0 ? 'pass' : 'fail',
            value,
            `${Math.round(value)} ${what} in the window (ERP metric; the database could not be read: ${why})`,
          );
    return dashboard('qt09-protocol', 'QT-09 Protocol', [
      byMetric(clearBase, metricViolations, 'violations'),
      byMetric(handBase, metricFailures, 'failures'),
      unknown(segBase, why),
      unknown(protoBase, why),
    ]);
  }
  const s = summary.value;
  const dbViolations = s.clearanceViolations;
  const allViolations = dbViolations + Math.round(metricViolations ?? 0);
  const clearPercent = s.lineChecks > 0 ? (s.lineClear / s.lineChecks) * 100 : null;
  const clearVerdict: Verdict = allViolations > 0 ? 'fail' : clearPercent === null || s.lineClear === s.lineChecks ? 'pass' : 'warn';
  const clearObserved =
    (clearPercent === null
      ? 'no line clearance checks in the window'
      : `${round(clearPercent, 2)} % passing (${s.lineClear} of ${s.lineChecks} checks; ${s.lineChecks - s.lineClear} found the line not clear and blocked the transfer)`) +
    (allViolations > 0
      ? `; ${allViolations} violation(s): ${dbViolations} transfer(s) accepted without a clear line, ${Math.round(metricViolations ?? 0)} counted by the ERP`
      : '');
  const finished = s.handshakesAccepted + s.handshakesCancelled;
  const handPercent = finished > 0 ? (s.handshakesAccepted / finished) * 100 : null;
  const handFailures = Math.round(metricFailures ?? 0);
  const handVerdict: Verdict = (handPercent !== null && s.handshakesAccepted < finished) || handFailures > 0 ? 'fail' : 'pass';
  const protocolErrors = Object.values(s.protocolErrors).reduce((a, b) => a + b, 0);
  return dashboard('qt09-protocol', 'QT-09 Protocol', [
    metric(clearBase, clearVerdict, clearPercent, clearObserved, {
      checks: s.lineChecks,
      clear: s.lineClear,
      violations: dbViolations,
      transfers: s.transfers,
      linesNow: s.lineStates,
      ...fromMetrics,
    }),
    metric(
      handBase,
      handVerdict,
      handPercent,
      (handPercent === null
        ? 'no handshake finished in the window'
        : `${round(handPercent, 2)} % (${s.handshakesAccepted} accepted, ${s.handshakesCancelled} cancelled before acceptance; ${s.handshakesOpen} still open)`) +
        (handFailures > 0 ? `; the ERP counted ${handFailures} handshake failure(s)` : ''),
      { accepted: s.handshakesAccepted, cancelled: s.handshakesCancelled, open: s.handshakesOpen, ...fromMetrics },
    ),
    metric(
      segBase,
      s.segregationAlarms === 0 ? 'pass' : 'fail',
      s.segregationAlarms,
      `${s.segregationAlarms} segregation alarm(s), ${s.segregationAlarmsPending} still pending; ${s.segregationAcknowledgements} acknowledgement(s)`,
      {
        pending: s.segregationAlarmsPending,
        acknowledgements: s.segregationAcknowledgements,
      },
    ),
    metric(
      protoBase,
      protocolErrors === 0 ? 'pass' : 'fail',
      protocolErrors,
      protocolErrors === 0
        ? `none in ${s.transfers} transfer(s)`
        : Object.entries(s.protocolErrors)
            .filter(([, n]) => n > 0)
            .map(([k, n]) => `${k}: ${n}`)
            .join(', '),
      { byKind: s.protocolErrors },
    ),
  ]);
}

// ---- 5. Quality Control --------------------------------------------------------------------------
export async function qualityControl(input: ReviewInputs): Promise<ReviewDashboard> {
  const t = input.inventory.thresholds;
  const w = range(input.window);
  const mdNow = 'max(metal_detector_failure_alert)';
  const mdWindow = `max(max_over_time(metal_detector_failure_alert[${w}]))`;
  const mdBase: Base = {
    metric: 'metal-detector',
    title: 'Metal detector status',
    unit: '',
    target: 'operational (no failure alert)',
    source: `Prometheus: ${mdNow}, ${mdWindow}; ERP database: qc_inspections FINAL_METAL_DETECTOR`,
  };
  const passBase: Base = {
    metric: 'qc-pass-rate',
    title: 'QC pass rate',
    unit: '%',
    target: `>= ${t.qcPassPercentMin} %`,
    source: 'ERP database: qc_inspections (status PASS / all)',
  };
  const defectBase: Base = {
    metric: 'defect-rate',
    title: `Defect rate (trend over ${TREND_DAYS} days)`,
    unit: '%',
    target: 'trend tracked (informational)',
    source: 'ERP database: qc_inspections (defect_qty / inspected_qty, per local day)',
  };
  const respBase: Base = {
    metric: 'qc-response-time',
    title: 'QC response time (p95)',
    unit: 's',
    target: `< ${t.qcResponseSecondsMax} s`,
    source: 'ERP database: qc_inspections timestamps',
  };
  const [qc, now, during] = await Promise.allSettled([
    input.db.qcSummary(input.window, { days: TREND_DAYS, timezone: input.inventory.timezone }, { timeoutMs: input.timeoutMs }),
    input.current ? promNumber(input, mdNow) : Promise.resolve(undefined),
    promNumber(input, mdWindow),
  ]);
  const dbWhy = qc.status === 'rejected' ? `ERP database: ${describeFailure(qc.reason).observed}` : '';
  const s = qc.status === 'fulfilled' ? qc.value : undefined;

  let metal: ReviewMetric;
  const alertNow = now.status === 'fulfilled' ? now.value : undefined;
  const alertDuring = during.status === 'fulfilled' ? during.value : undefined;
  const mdDetails = s
    ? {
        inspections: s.metalDetector.inspections,
        contaminationsFound: s.metalDetector.failed,
        lastInspection: s.metalDetector.lastAt?.toISOString() ?? null,
        lastStatus: s.metalDetector.lastStatus,
      }
    : undefined;
  if (alertNow !== undefined || alertDuring !== undefined) {
    const failingNow = (alertNow ?? 0) > 0;
    const failedDuring = (alertDuring ?? 0) > 0;
    metal = metric(
      mdBase,
      failingNow ? 'fail' : failedDuring ? 'warn' : 'pass',
      alertNow ?? alertDuring ?? null,
      failingNow
        ? 'failure alert raised now (metal_detector_failure_alert = 1)'
        : failedDuring
          ? 'operational now; a failure alert was raised during the window'
          : 'operational: no failure alert in the window',
      mdDetails,
    );
  } else if (s) {
    const md = s.metalDetector;
    metal = metric(
      { ...mdBase, source: 'ERP database: qc_inspections FINAL_METAL_DETECTOR (the ERP exports no metal_detector_failure_alert)' },
      md.inspections > 0 ? 'pass' : 'warn',
      md.inspections,
      md.inspections > 0
        ? `operational: ${md.inspections} inspection(s) in the window, the last at ${md.lastAt?.toISOString()}`
        : `no metal detector inspection in the window (last: ${md.lastAt?.toISOString() ?? 'never'})`,
      mdDetails,
    );
  } else {
    metal = unknown(mdBase, `no metal_detector_failure_alert series in Prometheus, and ${dbWhy}`);
  }
  if (!s)
    return dashboard('quality-control', 'Quality Control', [
      metal,
      unknown(passBase, dbWhy),
      unknown(defectBase, dbWhy),
      unknown(respBase, dbWhy),
    ]);

  const passRate = s.inspections > 0 ? (s.passed / s.inspections) * 100 : null;
  const pass =
    passRate === null
      ? unknown(passBase, 'no QC inspection in the window')
      : metric(
          passBase,
          passRate >= t.qcPassPercentMin ? 'pass' : 'fail',
          passRate,
          `${round(passRate, 2)} % (${s.passed} of ${s.inspections} inspections passed, ${s.failed} failed)`,
          { inspections: s.inspections, passed: s.passed, failed: s.failed },
        );

  const trend = s.defectTrend.map((d) => ({
    ...d,
    defectPercent: d.inspectedQty > 0 ? round((d.defectQty / d.inspectedQty) * 100, 3) : null,
  }));
  const points = trend.map((d, i) => [i, d.defectPercent] as const).filter((p): p is readonly [number, number] => p[1] !== null);
  let slope: number | null = null;
  if (points.length >= 2) {
    const mx = points.reduce((a, p) => a + p[0], 0) / points.length;
    const my = points.reduce((a, p) => a + p[1], 0) / points.length;
    const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
    slope = sxx > 0 ? points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) / sxx : 0;
  }
  const windowDefect = s.inspectedQty > 0 ? (s.defectQty / s.inspectedQty) * 100 : null;
  const defect =
    windowDefect === null && points.length === 0
      ? unknown(defectBase, `no QC inspection in the last ${TREND_DAYS} days`)
      : metric(
          defectBase,
          'pass',
          windowDefect,
          `${windowDefect === null ? 'no inspection in the window' : `${round(windowDefect, 3)} % of inspected units in the window`}; trend ${slope === null ? 'not computable (fewer than 2 days with inspections)' : `${slope > 0 ? '+' : ''}${round(slope, 3)} percentage points per day over ${TREND_DAYS} days`}`,
          { perDay: trend, slopePointsPerDay: slope === null ? null : round(slope, 4) },
        );

  const r = s.responseTime;
  const response =
    'note' in r
      ? unknown(respBase, r.note)
      : r.p95Seconds === null
        ? unknown(
            { ...respBase, source: `ERP database: qc_inspections ${r.endColumn} - ${r.startColumn}` },
            'no inspection with both times in the window',
          )
        : metric(
            { ...respBase, source: `ERP database: qc_inspections ${r.endColumn} - ${r.startColumn}` },
            r.p95Seconds < t.qcResponseSecondsMax ? 'pass' : 'fail',
            r.p95Seconds,
            `p95 ${round(r.p95Seconds, 1)} s, mean ${round(r.averageSeconds ?? 0, 1)} s over ${r.count} inspection(s)`,
          );
  return dashboard('quality-control', 'Quality Control', [metal, pass, defect, response]);
}
