/**
 * The runbook's "Service Health Monitoring" key metrics: API latency and error rate
 * (Prometheus), CPU and memory of the stack (container-usage-check.ts), disk usage of the
 * ERP host (disk-check.ts) and Redis memory, each against the inventory's thresholds.
 */
import { Inventory } from '../../../config/inventory.schema';
import { ContainerStats, DockerPort, HostResourcesPort, PrometheusPort, TargetRedisPort } from '../../../integrations/contracts';
import { bandVerdict, CheckDefinition, describeFailure, singleCheck } from '../check';
import { containerUsageCheck, ISSUE2, round } from './container-usage-check';
import { diskCheck } from './disk-check';

/** One Prometheus instant query turned into a band verdict. */
function promMetric(
  id: string,
  title: string,
  promql: string,
  band: { warn: number; fail: number },
  unit: string,
  scale: number,
  nextStep: string,
  prometheus: PrometheusPort,
): CheckDefinition {
  return {
    id,
    title,
    timeoutMs: 2000,
    async run(ctx) {
      const expected = `< ${band.fail}${unit} (warn at ${band.warn}${unit})`;
      try {
        const samples = await prometheus.query(promql, ctx);
        const value = samples[0]?.value;
        if (value === undefined || Number.isNaN(value))
          return [
            {
              check: id,
              title,
              verdict: 'unknown',
              observed: 'no data (no requests in the last 5 minutes?)',
              expected,
              details: { promql },
            },
          ];
        const scaled = value * scale;
        const verdict = bandVerdict(scaled, band);
        return [
          {
            check: id,
            title,
            verdict,
            observed: `${round(scaled, 3)}${unit}`,
            expected,
            details: { promql },
            ...(verdict === 'pass' ? {} : { nextStep }),
          },
        ];
      } catch (error) {
        const { observed } = describeFailure(error);
        return [{ check: id, title, verdict: 'unknown', observed: `from Prometheus: ${observed}`, expected, details: { promql } }];
      }
    },
  };
}

/** Redis memory against its band (INFO memory of the ERP's Redis). */
function redisMemoryCheck(inventory: Inventory, redis: TargetRedisPort): CheckDefinition {
  const band = inventory.thresholds.redisMemoryMb;
  return singleCheck(
    {
      id: 'metric:redis-memory',
      title: 'Redis memory',
      timeoutMs: 2000,
      expected: `< ${band.fail} MB (warn at ${band.warn} MB)`,
      nextStep: `${ISSUE2} (step 4: redis-cli info memory)`,
      system: 'ERP Redis',
      nextStepOnError: () => 'check erp-redis (docker-compose exec redis redis-cli ping)',
    },
    async (ctx) => {
      const { usedBytes } = await redis.memory(ctx);
      const mb = usedBytes / 1e6;
      return { verdict: bandVerdict(mb, band), observed: `${round(mb)} MB used` };
    },
  );
}

/** The adapters the key metrics read. */
export interface MetricSources {
  prometheus: PrometheusPort;
  docker: DockerPort;
  redis: TargetRedisPort;
  /** The ERP host's disks (its node exporter). */
  host: HostResourcesPort;
  /** The stats sampler's latest reading of a container, when it has one. */
  cached?: (container: string) => ContainerStats | undefined;
}

/** "Service Health Monitoring" key metrics with the runbook's thresholds (inventory values). */
export function metricChecks(inventory: Inventory, sources: MetricSources): CheckDefinition[] {
  const t = inventory.thresholds;
  const { prometheus, docker } = sources;
  const w = `${t.rateWindowMinutes}m`;
  return [
    promMetric(
      'metric:api-p95',
      'API response time p95',
      `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[${w}])))`,
      t.apiP95Seconds,
      ' s',
      1,
      ISSUE2,
      prometheus,
    ),
    promMetric(
      'metric:error-rate',
      'API error rate (5xx)',
      `(sum(rate(http_requests_total{status=~"5.."}[${w}])) or vector(0)) / sum(rate(http_requests_total[${w}]))`,
      t.errorRatePercent,
      ' %',
      100,
      'high error rate: escalate P2 to the Senior Dev; read the backend logs (Common Issues: Issue 6)',
      prometheus,
    ),
    containerUsageCheck(inventory, docker, sources.cached ?? (() => undefined)),
    diskCheck(inventory, sources.host, docker),
    redisMemoryCheck(inventory, sources.redis),
  ];
}
