import { statfs } from 'node:fs/promises';
import { Inventory } from '../../../config/inventory.schema';
import { ContainerStats, DockerPort, PrometheusPort, TargetRedisPort } from '../../../integrations/contracts';
import { bandVerdict, CheckDefinition, CheckResult, describeFailure, singleCheck } from '../check';

type Result = Omit<CheckResult, 'durationMs'>;

const ISSUE2 = 'see Common Issues: Issue 2 (High API Response Time): procedure api.high-latency';

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

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

/** "Service Health Monitoring" key metrics with the runbook's thresholds (inventory values). */
export function metricChecks(
  inventory: Inventory,
  prometheus: PrometheusPort,
  docker: DockerPort,
  redis: TargetRedisPort,
  cached: (container: string) => ContainerStats | undefined = () => undefined,
): CheckDefinition[] {
  const t = inventory.thresholds;
  return [
    promMetric(
      'metric:api-p95',
      'API response time p95',
      'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
      t.apiP95Seconds,
      ' s',
      1,
      ISSUE2,
      prometheus,
    ),
    promMetric(
      'metric:error-rate',
      'API error rate (5xx)',
      '(sum(rate(http_requests_total{status=~"5.."}[5m])) or vector(0)) / sum(rate(http_requests_total[5m]))',
      t.errorRatePercent,
      ' %',
      100,
      'high error rate: escalate P2 to the Senior Dev; read the backend logs (Common Issues: Issue 6)',
      prometheus,
    ),
    {
      id: 'metric:cpu-memory',
      title: 'CPU and memory of the stack',
      timeoutMs: 4000,
      async run(ctx) {
        const results: Result[] = [];
        const containers = inventory.stack.services.map((s) => s.container);
        const stats = await Promise.all(
          containers.map(
            (c) =>
              cached(c) ??
              docker.stats(c, ctx).then(
                (s) => s,
                () => undefined,
              ),
          ),
        );
        const known = stats.filter((s) => s !== undefined);
        const cpuExpected = `< ${t.cpuPercent.fail} % (warn at ${t.cpuPercent.warn} %)`;
        const memExpected = `< ${t.memoryPercent.fail} % (warn at ${t.memoryPercent.warn} %)`;
        if (known.length === 0) {
          let observed = 'no container statistics';
          try {
            await docker.ping(ctx);
          } catch (error) {
            observed = `Docker engine: ${describeFailure(error).observed}`;
          }
          return [
            { check: 'metric:cpu', title: 'CPU usage', verdict: 'unknown', observed, expected: cpuExpected },
            { check: 'metric:memory', title: 'memory usage', verdict: 'unknown', observed, expected: memExpected },
          ];
        }
        const cpu = known.reduce((sum, s) => sum + s.cpuPercent, 0);
        const memory = known.reduce((sum, s) => sum + s.memoryBytes, 0);
        const limit = Math.max(...known.map((s) => s.memoryLimitBytes));
        const memoryPercent = limit > 0 ? (memory / limit) * 100 : 0;
        const cpuVerdict = bandVerdict(cpu, t.cpuPercent);
        const memVerdict = bandVerdict(memoryPercent, t.memoryPercent);
        const partial = known.length < containers.length ? ` (${known.length} of ${containers.length} containers)` : '';
        results.push({
          check: 'metric:cpu',
          title: 'CPU usage',
          verdict: cpuVerdict,
          observed: `${round(cpu)} %${partial}`,
          expected: cpuExpected,
          ...(cpuVerdict === 'pass' ? {} : { nextStep: ISSUE2 }),
        });
        results.push({
          check: 'metric:memory',
          title: 'memory usage',
          verdict: memVerdict,
          observed: `${round(memoryPercent)} % (${round(memory / 2 ** 20, 0)} MiB of ${round(limit / 2 ** 20, 0)} MiB)${partial}`,
          expected: memExpected,
          ...(memVerdict === 'pass' ? {} : { nextStep: ISSUE2 }),
        });
        return results;
      },
    },
    {
      id: 'metric:disk',
      title: 'disk usage of the data and backup paths',
      timeoutMs: 1000,
      async run() {
        const paths = [...new Set([...inventory.stack.dataPaths, inventory.backups.directory])];
        return Promise.all(
          paths.map(async (path): Promise<Result> => {
            const expected = `< ${t.diskPercent.fail} % used (warn at ${t.diskPercent.warn} %)`;
            try {
              const fs = await statfs(path);
              // As df computes it: used / (used + available to unprivileged users).
              const used = (fs.blocks - fs.bfree) * fs.bsize;
              const available = fs.bavail * fs.bsize;
              const percent = used + available > 0 ? (used / (used + available)) * 100 : 0;
              const verdict = bandVerdict(percent, t.diskPercent);
              return {
                check: `metric:disk:${path}`,
                title: `disk usage of ${path}`,
                verdict,
                observed: `${round(percent)} % used, ${round((fs.bavail * fs.bsize) / 2 ** 30)} GiB free`,
                expected,
                ...(verdict === 'pass'
                  ? {}
                  : { nextStep: 'see Common Issues: Issue 3 (PostgreSQL Out of Disk Space): procedure disk.cleanup' }),
              };
            } catch (error) {
              return {
                check: `metric:disk:${path}`,
                title: `disk usage of ${path}`,
                verdict: 'unknown',
                observed: `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
                expected,
              };
            }
          }),
        );
      },
    },
    singleCheck(
      {
        id: 'metric:redis-memory',
        title: 'Redis memory',
        timeoutMs: 2000,
        expected: `< ${t.redisMemoryMb.fail} MB (warn at ${t.redisMemoryMb.warn} MB)`,
        nextStep: `${ISSUE2} (step 4: redis-cli info memory)`,
        system: 'ERP Redis',
        nextStepOnError: () => 'check erp-redis (docker-compose exec redis redis-cli ping)',
      },
      async (ctx) => {
        const { usedBytes } = await redis.memory(ctx);
        const mb = usedBytes / 1e6;
        return { verdict: bandVerdict(mb, t.redisMemoryMb), observed: `${round(mb)} MB used` };
      },
    ),
  ];
}
