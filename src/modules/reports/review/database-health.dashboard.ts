/**
 * Dashboard 3, Database Health: connections, slow queries, cache hit rate and transaction
 * rate (the ERP database's statistics, read now), and free disk space of the data paths on
 * the ERP host in decimal GB (the runbook's "100 GB free").
 */
import { GB, toGb } from '../../../common/units';
import { ConnectionCounts, DatabaseActivity, PathDiskUsage, SlowQueries } from '../../../integrations/contracts';
import { bandVerdict, describeFailure } from '../../health/public';
import {
  Base,
  dashboard,
  diskReadings,
  failed,
  metric,
  NOT_NOW,
  ReviewDashboard,
  ReviewInputs,
  ReviewMetric,
  round,
  unknown,
} from './review-metric';

function bases(input: ReviewInputs) {
  const t = input.inventory.thresholds;
  const base = (metric: string, title: string, unit: string, target: string, source: string): Base => ({
    metric,
    title,
    unit,
    target,
    source,
  });
  return {
    connections: base(
      'connections',
      'Connection count',
      'connections',
      `< ${t.dbConnections.fail} of ${t.dbConnections.max} (warn at ${t.dbConnections.warn})`,
      'ERP database: pg_stat_activity, max_connections',
    ),
    slow: base(
      'slow-queries',
      'Slow queries (mean > 100 ms)',
      'queries',
      'near 0 (0 passes, any warns)',
      'ERP database: v_slow_queries or pg_stat_statements (since its last reset)',
    ),
    hit: base(
      'cache-hit-rate',
      'Cache hit rate',
      '%',
      `> ${t.cacheHitPercentMin} %`,
      'ERP database: pg_stat_database blks_hit / (blks_hit + blks_read)',
    ),
    xact: base(
      'transaction-rate',
      'Transaction rate',
      'tx/s',
      'patterns monitored (informational)',
      'ERP database: pg_stat_database xact_commit + xact_rollback',
    ),
    free: base(
      'free-disk',
      'Free disk space',
      'GB',
      `> ${t.freeDiskGbMin} GB free`,
      `the ERP host's node exporter (${input.inventory.stack.nodeExporterUrl}) for stack.dataPaths (${input.inventory.stack.dataPaths.join(', ')})`,
    ),
  };
}

type Bases = ReturnType<typeof bases>;

function connectionsMetric(input: ReviewInputs, base: Base, c: ConnectionCounts): ReviewMetric {
  return metric(base, bandVerdict(c.total, input.inventory.thresholds.dbConnections), c.total, `${c.total} of max ${c.max}`, {
    byDatabase: c.byDatabase,
  });
}

function slowMetric(base: Base, s: SlowQueries): ReviewMetric {
  if (s.source === 'none') return unknown(base, s.note ?? 'neither v_slow_queries nor pg_stat_statements can be read');
  const n = s.queries.length;
  return metric(
    { ...base, source: `ERP database: ${s.source}` },
    n === 0 ? 'pass' : 'warn',
    n,
    n ? `${n}${n >= 20 ? '+' : ''} statements, slowest mean ${s.queries[0].meanMs} ms` : 'none',
    { slowest: s.queries.slice(0, 5) },
  );
}

function hitMetric(input: ReviewInputs, base: Base, a: DatabaseActivity): ReviewMetric {
  const blocks = a.blocksHit + a.blocksRead;
  if (blocks === 0) return unknown(base, 'no blocks read since the statistics began');
  const hit = (a.blocksHit / blocks) * 100;
  const since = a.statsSince.toISOString();
  return metric(base, hit > input.inventory.thresholds.cacheHitPercentMin ? 'pass' : 'fail', hit, `${round(hit, 2)} % since ${since}`, {
    blocksHit: a.blocksHit,
    blocksRead: a.blocksRead,
    since,
  });
}

/** Transactions per second since the previous review's counters when they still count from the same start, else since the statistics began. */
function transactionMetric(input: ReviewInputs, base: Base, a: DatabaseActivity): ReviewMetric {
  const xacts = a.commits + a.rollbacks;
  const prev = input.previousActivity;
  const counters = { commits: a.commits, rollbacks: a.rollbacks, statsSince: a.statsSince.toISOString(), at: a.at.toISOString() };
  const prevXacts = prev ? prev.commits + prev.rollbacks : 0;
  if (prev && prev.statsSince === counters.statsSince && xacts >= prevXacts && a.at.getTime() > Date.parse(prev.at)) {
    const rate = (xacts - prevXacts) / ((a.at.getTime() - Date.parse(prev.at)) / 1000);
    const observed = `${round(rate, 2)} tx/s since the previous review (${prev.at}): ${xacts - prevXacts} transactions`;
    return metric(base, 'pass', rate, observed, { counters, since: prev.at });
  }
  const rate = xacts / Math.max(1, (a.at.getTime() - a.statsSince.getTime()) / 1000);
  const observed = `${round(rate, 2)} tx/s on average since the statistics began (${counters.statsSince}); the next review measures from this one`;
  return metric(base, 'pass', rate, observed, { counters, since: counters.statsSince });
}

/** The least free space among the data paths' file systems, in decimal GB. */
function freeDiskMetric(input: ReviewInputs, base: Base, usages: PathDiskUsage[]): ReviewMetric {
  const least = usages.reduce((a, b) => (b.freeBytes < a.freeBytes ? b : a));
  const freeGb = least.freeBytes / GB;
  return metric(
    base,
    freeGb > input.inventory.thresholds.freeDiskGbMin ? 'pass' : 'fail',
    freeGb,
    `${toGb(least.freeBytes, 1)} GB free on ${least.path}`,
    {
      paths: usages.map((u) => ({ path: u.path, mountpoint: u.mountpoint, freeGb: toGb(u.freeBytes, 1) })),
    },
  );
}

function settled<T>(
  result: PromiseSettledResult<T>,
  judge: (value: T) => ReviewMetric,
  onError: (reason: unknown) => ReviewMetric,
): ReviewMetric {
  return result.status === 'fulfilled' ? judge(result.value) : onError(result.reason);
}

export async function databaseHealth(input: ReviewInputs): Promise<{ dashboard: ReviewDashboard; activity?: DatabaseActivity }> {
  const b: Bases = bases(input);
  if (!input.current) {
    const metrics = [b.connections, b.slow, b.hit, b.xact, b.free].map((base) => unknown(base, NOT_NOW));
    return { dashboard: dashboard('database-health', 'Database Health', metrics) };
  }
  const o = { timeoutMs: input.timeoutMs };
  const [conn, slow, activity, disk] = await Promise.allSettled([
    input.db.connectionCounts(o),
    input.db.slowQueries(20, o),
    input.db.databaseActivity(o),
    diskReadings(input),
  ]);
  const dbFailed = (base: Base) => (reason: unknown) => failed(base, reason, 'ERP database');
  const metrics = [
    settled(conn, (c) => connectionsMetric(input, b.connections, c), dbFailed(b.connections)),
    settled(slow, (s) => slowMetric(b.slow, s), dbFailed(b.slow)),
    settled(activity, (a) => hitMetric(input, b.hit, a), dbFailed(b.hit)),
    settled(activity, (a) => transactionMetric(input, b.xact, a), dbFailed(b.xact)),
    settled(
      disk,
      (usages) => freeDiskMetric(input, b.free, usages),
      (reason) => unknown(b.free, `cannot read from the ERP host's node exporter: ${describeFailure(reason).observed}`),
    ),
  ];
  const reading = activity.status === 'fulfilled' ? activity.value : undefined;
  return { dashboard: dashboard('database-health', 'Database Health', metrics), activity: reading };
}
