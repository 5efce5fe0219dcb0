import { z } from 'zod';
import { ProcedureDefinition } from '../../../procedures/procedure';
import { containerOf, waitBackendHealthy } from '../../../procedures/stack-steps';
import { RemediationDeps } from '../remediation-deps';

const CALL = { timeoutMs: 15_000 };
const MB = 1024 * 1024;

export const latencyParameters = z
  .object({
    window: z
      .string({ error: 'must be a Prometheus range like 5m or 1h' })
      .regex(/^[1-9][0-9]{0,3}[smh]$/, { error: 'must be a Prometheus range like 5m, 30s or 1h' })
      .default('5m'),
    limit: z
      .number({ error: 'must be a whole number 1-50' })
      .int({ error: 'must be a whole number 1-50' })
      .min(1)
      .max(50, { error: 'must be at most 50' })
      .default(10),
    restartBackend: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .strict();
type Params = z.infer<typeof latencyParameters>;

const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

/** Runbook "Issue 2: High API Response Time (> 1 second)": a diagnosis, with an optional restart (P2). */
export function highLatencyProcedure({
  inventory,
  targetDb,
  targetRedis,
  prometheus,
  docker,
  http,
}: RemediationDeps): ProcedureDefinition<Params> {
  const p95Target = inventory.thresholds.apiP95Seconds.fail;
  const redisLimitMb = inventory.thresholds.redisMemoryMb.fail;
  const findings = new Map<string, Record<string, unknown>>();
  const note = (runId: string, key: string, value: unknown) => findings.set(runId, { ...(findings.get(runId) ?? {}), [key]: value });

  const slowQueries = async (p: Params) => {
    try {
      return await targetDb.slowQueries(p.limit, CALL);
    } catch (error) {
      return { source: 'none' as const, note: `could not read slow queries: ${(error as Error).message}`, queries: [] };
    }
  };

  const endpoints = async (p: Params) => {
    const w = p.window;
    const queries = {
      overallP95: `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[${w}])))`,
      p95ByEndpoint: `topk(${p.limit}, histogram_quantile(0.95, sum by (le, endpoint) (rate(http_request_duration_seconds_bucket[${w}]))))`,
      timeSpentByEndpoint: `topk(${p.limit}, sum by (endpoint) (rate(http_request_duration_seconds_sum[${w}])))`,
    };
    try {
      const [overall, byEndpoint, spent] = await Promise.all([
        prometheus.query(queries.overallP95, CALL),
        prometheus.query(queries.p95ByEndpoint, CALL),
        prometheus.query(queries.timeSpentByEndpoint, CALL),
      ]);
      const p95 = overall[0] && Number.isFinite(overall[0].value) ? round(overall[0].value) : null;
      return {
        queries,
        p95Seconds: p95,
        target: `p95 < ${p95Target} s`,
        withinTarget: p95 === null ? null : p95 < p95Target,
        slowestEndpoints: byEndpoint
          .filter((s) => Number.isFinite(s.value))
          .sort((a, b) => b.value - a.value)
          .map((s) => ({ endpoint: s.metric.endpoint, p95Seconds: round(s.value) })),
        timeSpent: spent
          .sort((a, b) => b.value - a.value)
          .map((s) => ({ endpoint: s.metric.endpoint, secondsPerSecond: round(s.value, 4) })),
      };
    } catch (error) {
      return { queries, error: `Prometheus: ${(error as Error).message}` };
    }
  };

  const redis = async () => {
    try {
      const m = await targetRedis.memory(CALL);
      const usedMb = round(m.usedBytes / MB, 1);
      return { usedMb, maxMb: m.maxBytes ? round(m.maxBytes / MB, 1) : null, limitMb: redisLimitMb, withinLimit: usedMb < redisLimitMb };
    } catch (error) {
      return { error: `Redis: ${(error as Error).message}` };
    }
  };

  return {
    id: 'api.high-latency',
    title: 'High API response time: slow queries, slowest endpoints, Redis memory; optional backend restart',
    severity: 'P3',
    // The restart changes the stack: P2, like the runbook's "API slow (>5s)".
    severityFor: (p) => (p.restartBackend ? 'P2' : 'P3'),
    domain: 'system',
    parameters: latencyParameters,
    locks: (p) => (p.restartBackend ? ['erp:backend'] : []),
    requiresApproval: false,
    onEnd: (runId) => void findings.delete(runId),
    steps: [
      {
        id: 'slow-queries',
        title: 'Slow queries (v_slow_queries or pg_stat_statements)',
        timeoutMs: 30_000,
        plan: async (ctx) => ({ reads: 'v_slow_queries, else pg_stat_statements (mean_exec_time)', limit: ctx.parameters.limit }),
        run: async (ctx) => {
          const result = await slowQueries(ctx.parameters);
          note(ctx.runId, 'slowQueries', result);
          return { ...result };
        },
      },
      {
        id: 'endpoints',
        title: 'Top endpoints by latency (Prometheus)',
        timeoutMs: 30_000,
        plan: async (ctx) => ({ prometheus: inventory.urls.prometheus, window: ctx.parameters.window }),
        run: async (ctx) => {
          const result = await endpoints(ctx.parameters);
          note(ctx.runId, 'endpoints', result);
          return result;
        },
      },
      {
        id: 'redis',
        title: 'Redis memory (runbook: < 500 MB)',
        timeoutMs: 20_000,
        plan: async () => ({ reads: 'INFO memory', limitMb: redisLimitMb }),
        run: async (ctx) => {
          const result = await redis();
          note(ctx.runId, 'redis', result);
          return result;
        },
      },
      {
        id: 'restart',
        title: 'Restart the backend (only with restartBackend: true) and wait until healthy',
        timeoutMs: (inventory.backups.backendHealthySeconds + 90) * 1000,
        plan: async (ctx) => ({ restart: ctx.parameters.restartBackend, container: containerOf(inventory, 'backend') }),
        run: async (ctx) => {
          if (!ctx.parameters.restartBackend) return { restarted: false };
          await docker.restartContainer(containerOf(inventory, 'backend'), { timeoutMs: 60_000, graceSeconds: 10 });
          const healthy = await waitBackendHealthy(inventory, docker, http, ctx.signal);
          note(ctx.runId, 'restart', healthy);
          return { restarted: true, ...healthy };
        },
      },
      {
        id: 'report',
        title: 'Findings and the suggested next step',
        timeoutMs: 10_000,
        plan: async () => ({ report: 'findings of the steps above and a suggested next step' }),
        run: async (ctx) => {
          const f = findings.get(ctx.runId) ?? {};
          findings.delete(ctx.runId);
          const sq = f.slowQueries as Awaited<ReturnType<typeof slowQueries>> | undefined;
          const ep = f.endpoints as Record<string, any> | undefined;
          const rd = f.redis as Record<string, any> | undefined;
          const next: string[] = [];
          if (sq?.queries.length)
            next.push(
              `database: run EXPLAIN ANALYZE on the slowest query (${sq.queries[0].meanMs} ms mean: ${sq.queries[0].query.slice(0, 120)}), check for a missing index, contact the Senior Developer`,
            );
          if (sq?.source === 'none') next.push(`slow queries unknown: ${sq.note}`);
          if (rd && rd.withinLimit === false)
            next.push(`Redis uses ${rd.usedMb} MB (limit ${redisLimitMb} MB): check the cache's key growth and eviction`);
          if (ep?.withinTarget === false && ep.slowestEndpoints?.length)
            next.push(
              `slowest endpoint ${ep.slowestEndpoints[0].endpoint} (p95 ${ep.slowestEndpoints[0].p95Seconds} s): read its logs; if nothing else helps, restart the backend (restartBackend: true, P2)`,
            );
          if (ep?.error) next.push(`latency unknown: ${ep.error}`);
          if (!next.length)
            next.push(
              ep?.withinTarget
                ? `p95 ${ep.p95Seconds} s is within the target (< ${p95Target} s): no action`
                : 'nothing stands out: escalate to the Senior Developer if users still report slowness',
            );
          return {
            p95Seconds: ep?.p95Seconds ?? null,
            withinTarget: ep?.withinTarget ?? null,
            slowQueries: sq?.queries.length ?? 0,
            slowQuerySource: sq?.source ?? 'none',
            redisMb: rd?.usedMb ?? null,
            restarted: Boolean(f.restart),
            suggestedNextSteps: next,
          };
        },
      },
    ],
  };
}
