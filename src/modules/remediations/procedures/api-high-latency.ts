/**
 * Runbook "Issue 2: High API Response Time (> 1 second)": a diagnosis (slow queries, the
 * slowest endpoints, Redis memory), an optional backend restart (P2), and a report that reads
 * the earlier steps' outputs from its context. Each step is a named object callable alone.
 */
import { z } from 'zod';
import { Inventory } from '../../../config/inventory.schema';
import { flag, promRange, wholeNumber } from '../../../procedures/parameters';
import { defineProcedure, defineStep, ProcedureDefinition, StepOutput } from '../../../procedures/procedure';
import { containerOf, waitBackendHealthy } from '../../../procedures/stack-steps';
import { RemediationDeps } from '../remediation-deps';

const CALL = { timeoutMs: 15_000 };
const MB = 1024 * 1024;

export const latencyParameters = z
  .object({
    window: promRange().default('5m'),
    limit: wholeNumber('rows', 1, 50, 10).default(10),
    restartBackend: flag().default(false),
  })
  .strict();
export type LatencyParameters = z.infer<typeof latencyParameters>;

/** The adapters the steps use (the inventory comes with the step's context). */
export type LatencyDeps = Pick<RemediationDeps, 'targetDb' | 'targetRedis' | 'prometheus' | 'docker' | 'http'>;

const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;

export const slowQueriesStep = ({ targetDb }: Pick<LatencyDeps, 'targetDb'>) =>
  defineStep<LatencyParameters>({
    id: 'slow-queries',
    title: 'Slow queries (v_slow_queries or pg_stat_statements)',
    timeoutMs: 30_000,
    plan: async (ctx) => ({ reads: 'v_slow_queries, else pg_stat_statements (mean_exec_time)', limit: ctx.parameters.limit }),
    run: async (ctx) => {
      try {
        return { ...(await targetDb.slowQueries(ctx.parameters.limit, CALL)) };
      } catch (error) {
        return { source: 'none', note: `could not read slow queries: ${(error as Error).message}`, queries: [] };
      }
    },
  });

/** The PromQL of the endpoints step for a window and a top-N. */
export function latencyQueries(window: string, limit: number) {
  return {
    overallP95: `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[${window}])))`,
    p95ByEndpoint: `topk(${limit}, histogram_quantile(0.95, sum by (le, endpoint) (rate(http_request_duration_seconds_bucket[${window}]))))`,
    timeSpentByEndpoint: `topk(${limit}, sum by (endpoint) (rate(http_request_duration_seconds_sum[${window}])))`,
  };
}

export const endpointsStep = ({ prometheus }: Pick<LatencyDeps, 'prometheus'>) =>
  defineStep<LatencyParameters>({
    id: 'endpoints',
    title: 'Top endpoints by latency (Prometheus)',
    timeoutMs: 30_000,
    plan: async (ctx) => ({ prometheus: ctx.inventory.urls.prometheus, window: ctx.parameters.window }),
    run: async (ctx) => {
      const queries = latencyQueries(ctx.parameters.window, ctx.parameters.limit);
      const p95Target = ctx.inventory.thresholds.apiP95Seconds.fail;
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
    },
  });

export const redisStep = ({ targetRedis }: Pick<LatencyDeps, 'targetRedis'>) =>
  defineStep<LatencyParameters>({
    id: 'redis',
    title: 'Redis memory (runbook: < 500 MB)',
    timeoutMs: 20_000,
    plan: async (ctx) => ({ reads: 'INFO memory', limitMb: ctx.inventory.thresholds.redisMemoryMb.fail }),
    run: async (ctx) => {
      const limitMb = ctx.inventory.thresholds.redisMemoryMb.fail;
      try {
        const m = await targetRedis.memory(CALL);
        const usedMb = round(m.usedBytes / MB, 1);
        return { usedMb, maxMb: m.maxBytes ? round(m.maxBytes / MB, 1) : null, limitMb, withinLimit: usedMb < limitMb };
      } catch (error) {
        return { error: `Redis: ${(error as Error).message}` };
      }
    },
  });

export const restartStep = ({ docker, http }: Pick<LatencyDeps, 'docker' | 'http'>, inventory: Inventory) =>
  defineStep<LatencyParameters>({
    id: 'restart',
    title: 'Restart the backend (only with restartBackend: true) and wait until healthy',
    timeoutMs: (inventory.backups.backendHealthySeconds + 90) * 1000,
    plan: async (ctx) => ({ restart: ctx.parameters.restartBackend, container: containerOf(ctx.inventory, 'backend') }),
    run: async (ctx) => {
      if (!ctx.parameters.restartBackend) return { restarted: false };
      await docker.restartContainer(containerOf(ctx.inventory, 'backend'), { timeoutMs: 60_000, graceSeconds: 10 });
      return { restarted: true, ...(await waitBackendHealthy(ctx.inventory, docker, http, ctx.signal)) };
    },
  });

/** The suggested next steps from the diagnosis steps' outputs (an output is `{}` when its step did not run). */
export function suggestedNextSteps(sq: StepOutput, ep: StepOutput, rd: StepOutput, inventory: Inventory): string[] {
  const p95Target = inventory.thresholds.apiP95Seconds.fail;
  const queries = (sq.queries ?? []) as { meanMs: number; query: string }[];
  const slowest = (ep.slowestEndpoints ?? []) as { endpoint: string; p95Seconds: number }[];
  const next: string[] = [];
  if (queries.length)
    next.push(
      `database: run EXPLAIN ANALYZE on the slowest query (${queries[0].meanMs} ms mean: ${queries[0].query.slice(0, 120)}), check for a missing index, contact the Senior Developer`,
    );
  if (sq.source === 'none') next.push(`slow queries unknown: ${sq.note}`);
  if (rd.withinLimit === false)
    next.push(
      `Redis uses ${rd.usedMb} MB (limit ${inventory.thresholds.redisMemoryMb.fail} MB): check the cache's key growth and eviction`,
    );
  if (ep.withinTarget === false && slowest.length)
    next.push(
      `slowest endpoint ${slowest[0].endpoint} (p95 ${slowest[0].p95Seconds} s): read its logs; if nothing else helps, restart the backend (restartBackend: true, P2)`,
    );
  if (ep.error) next.push(`latency unknown: ${ep.error}`);
  if (!next.length)
    next.push(
      ep.withinTarget
        ? `p95 ${ep.p95Seconds} s is within the target (< ${p95Target} s): no action`
        : 'nothing stands out: escalate to the Senior Developer if users still report slowness',
    );
  return next;
}

export const reportStep = defineStep<LatencyParameters>({
  id: 'report',
  title: 'Findings and the suggested next step',
  timeoutMs: 10_000,
  plan: async () => ({ report: 'findings of the steps above and a suggested next step' }),
  run: async (ctx) => {
    const [sq, ep, rd] = [ctx.outputOf('slow-queries'), ctx.outputOf('endpoints'), ctx.outputOf('redis')];
    return {
      p95Seconds: ep.p95Seconds ?? null,
      withinTarget: ep.withinTarget ?? null,
      slowQueries: ((sq.queries ?? []) as unknown[]).length,
      slowQuerySource: sq.source ?? 'none',
      redisMb: rd.usedMb ?? null,
      restarted: ctx.outputOf('restart').restarted === true,
      suggestedNextSteps: suggestedNextSteps(sq, ep, rd, ctx.inventory),
    };
  },
});

export function highLatencyProcedure(deps: LatencyDeps & Pick<RemediationDeps, 'inventory'>): ProcedureDefinition<LatencyParameters> {
  return defineProcedure<LatencyParameters>({
    id: 'api.high-latency',
    title: 'High API response time: slow queries, slowest endpoints, Redis memory; optional backend restart',
    severity: 'P3',
    situation: 'performance',
    // The restart changes the stack: P2, like the runbook's "API slow (>5s)".
    severityFor: (p) => (p.restartBackend ? 'P2' : 'P3'),
    domain: 'system',
    parameters: latencyParameters,
    locks: (p) => (p.restartBackend ? ['erp:backend'] : []),
    requiresApproval: false,
    steps: [slowQueriesStep(deps), endpointsStep(deps), redisStep(deps), restartStep(deps, deps.inventory), reportStep],
  });
}
