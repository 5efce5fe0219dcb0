/**
 * Which procedure addresses what: each failing checklist check and each known alert (the ERP's
 * alert rules, group erp_production) links to the runbook procedure that fixes it.
 */

/** Alert name → procedure id. */
export const ALERT_REMEDIATIONS: Readonly<Record<string, string>> = {
  DBConnectionPoolExhausted: 'db.connection-pool-exhausted',
  HighAPILatency: 'api.high-latency',
  SlowQueries: 'api.high-latency',
  RedisMemoryUsageHigh: 'api.high-latency',
  HighErrorRate: 'backend.crash-loop',
  APIServiceDown: 'backend.crash-loop',
  DiskSpaceAlmostFull: 'disk.cleanup',
  DatabaseDiskUsageHigh: 'disk.cleanup',
  TooManyAlerts: 'alerts.storm',
  PostgreSQLDown: 'emergency.outage',
  RedisDown: 'emergency.outage',
  NodeDown: 'emergency.outage',
  PrometheusDown: 'emergency.outage',
  AlertmanagerDown: 'emergency.outage',
  GrafanaDown: 'emergency.outage',
  BackupFailed: 'backup.create',
  BackupSizeAbnormal: 'backup.verify',
};

/** Check id (exact, or prefix ending in ':') → procedure id; the first match wins. */
const CHECK_REMEDIATIONS: [string, string][] = [
  ['service:backend', 'backend.crash-loop'],
  ['api:', 'backend.crash-loop'],
  ['service:', 'emergency.outage'],
  ['db:connections', 'db.connection-pool-exhausted'],
  ['db:connect', 'emergency.outage'],
  ['db:tables', 'emergency.data-corruption'],
  ['db:count:', 'emergency.data-corruption'],
  ['metric:api-p95', 'api.high-latency'],
  ['metric:api-request', 'api.high-latency'],
  ['metric:redis-memory', 'api.high-latency'],
  ['metric:error-rate', 'backend.crash-loop'],
  ['metric:disk', 'disk.cleanup'],
  ['elasticsearch:health', 'logs.elasticsearch-ingest'],
  ['logs:flowing', 'logs.elasticsearch-ingest'],
  ['backup:fresh', 'backup.create'],
  ['backup:size', 'backup.verify'],
];

export function remediationForAlert(alertName: string | undefined): string | undefined {
  return alertName ? ALERT_REMEDIATIONS[alertName] : undefined;
}

export function remediationForCheck(checkId: string): string | undefined {
  return CHECK_REMEDIATIONS.find(
    ([key]) => checkId === key || (key.endsWith(':') ? checkId.startsWith(key) : checkId.startsWith(`${key}:`)),
  )?.[1];
}
