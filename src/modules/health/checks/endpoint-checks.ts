import { Inventory } from '../../../config/inventory.schema';
import { ElasticsearchPort, HttpProbePort, PrometheusPort } from '../../../integrations/contracts';
import { bandVerdict, CheckDefinition, describeFailure, singleCheck, Verdict } from '../check';

function body(value: unknown): Record<string, any> {
  return value && typeof value === 'object' ? (value as Record<string, any>) : {};
}

/** One HTTP probe turned into one result by `judge`. */
function probeCheck(
  id: string,
  title: string,
  url: string,
  expected: string,
  nextStep: string,
  http: HttpProbePort,
  judge: (status: number, body: Record<string, any>, latencyMs: number) => { verdict: Verdict; observed: string },
): CheckDefinition {
  return {
    id,
    title,
    timeoutMs: 2000,
    async run(ctx) {
      try {
        const res = await http.get(url, ctx);
        const { verdict, observed } = judge(res.status, body(res.body), res.latencyMs);
        return [{ check: id, title, verdict, observed, expected, ...(verdict === 'pass' ? {} : { nextStep }) }];
      } catch (error) {
        const { verdict, observed } = describeFailure(error);
        return [{ check: id, title, verdict, observed, expected, nextStep }];
      }
    },
  };
}

/** Runbook step 5: the backend's health endpoint answers 200 with status ok. */
export function apiChecks(inventory: Inventory, http: HttpProbePort): CheckDefinition[] {
  const p95 = inventory.thresholds.apiP95Seconds;
  return [
    probeCheck(
      'api:health',
      'the backend health endpoint answers',
      inventory.urls.backendHealth,
      '200 {"status":"ok"}',
      'see Common Issues: Issue 6 (API Container Crashes) or Issue 2 (High API Response Time)',
      http,
      (status, b, latencyMs) => {
        if (status !== 200 || b.status !== 'ok')
          return { verdict: 'fail', observed: `${status} ${JSON.stringify(b).slice(0, 120)} in ${latencyMs} ms` };
        const verdict = bandVerdict(latencyMs / 1000, p95);
        return { verdict, observed: `200 {"status":"ok"} in ${latencyMs} ms` };
      },
    ),
  ];
}

/** Runbook step 6, Prometheus: `up` for every target, and the Alertmanager answering API v2. */
/**
 * `since` (a smoke test after a recovery): a target whose last scrape is older than that has not
 * been scraped since the services came back; its old `up` says nothing yet: a warning, not a failure.
 */
export function prometheusChecks(inventory: Inventory, prometheus: PrometheusPort, http: HttpProbePort, since?: Date): CheckDefinition[] {
  return [
    singleCheck(
      {
        id: 'prometheus:targets',
        title: 'Prometheus answers and every target is up',
        timeoutMs: 2000,
        expected: 'every target up',
        nextStep: 'check erp-prometheus and the failing targets (Prometheus /targets); docker-compose restart prometheus',
        system: 'Prometheus',
      },
      async (ctx) => {
        const samples = await prometheus.query('up', ctx);
        const name = (s: { metric: Record<string, string> }) => `${s.metric.job ?? '?'} (${s.metric.instance ?? '?'})`;
        if (samples.length === 0) return { verdict: 'fail', observed: 'no targets' };
        let down = samples.filter((s) => s.value !== 1);
        let pending: typeof down = [];
        if (since && down.length) {
          // When was each of them last scraped?
          const scraped = new Map((await prometheus.query('timestamp(up)', ctx)).map((s) => [name(s), s.value * 1000]));
          pending = down.filter((s) => (scraped.get(name(s)) ?? 0) < since.getTime());
          down = down.filter((s) => !pending.includes(s));
        }
        if (down.length)
          return { verdict: 'fail', observed: `${down.length} of ${samples.length} targets down: ${down.map(name).join(', ')}` };
        if (pending.length)
          return {
            verdict: 'warn',
            observed: `${pending.length} of ${samples.length} targets not scraped since ${since!.toISOString()} (last seen down): ${pending.map(name).join(', ')}`,
          };
        return { verdict: 'pass', observed: `${samples.length} of ${samples.length} targets up` };
      },
    ),
    probeCheck(
      'alertmanager:status',
      'Alertmanager answers (API v2)',
      `${inventory.urls.alertmanager.replace(/\/$/, '')}/api/v2/status`,
      'cluster ready or disabled',
      'check erp-alertmanager; docker-compose restart alertmanager',
      http,
      (status, b) => {
        const cluster = b.cluster?.status;
        const ok = status === 200 && (cluster === 'ready' || cluster === 'disabled');
        return {
          verdict: ok ? 'pass' : status === 200 && cluster === 'settling' ? 'warn' : 'fail',
          observed: `${status}, cluster ${cluster ?? '?'}, version ${b.versionInfo?.version ?? '?'}`,
        };
      },
    ),
  ];
}

/** Runbook step 6, Grafana: /api/health with its database ok. */
export function grafanaChecks(inventory: Inventory, http: HttpProbePort): CheckDefinition[] {
  return [
    probeCheck(
      'grafana:health',
      'Grafana answers with its database ok',
      `${inventory.urls.grafana.replace(/\/$/, '')}/api/health`,
      '200 {"database":"ok"}',
      'check erp-grafana (docker-compose logs grafana); docker-compose restart grafana',
      http,
      (status, b) => ({
        verdict: status === 200 && b.database === 'ok' ? 'pass' : 'fail',
        observed: `${status}, database ${b.database ?? '?'}, version ${b.version ?? '?'}`,
      }),
    ),
  ];
}

/** What logs:flowing reads: today's document count, and the observation kept from an earlier run. */
export interface LogsFlow {
  todaysCount(options: { timeoutMs: number; signal?: AbortSignal }): Promise<{ today: string; indices: number; count: number }>;
  observe(count: number): Promise<{ previous?: { count: number; at: Date } }>;
}

const ISSUE4 = 'see Common Issues: Issue 4 (Elasticsearch Cannot Ingest Logs): procedure logs.elasticsearch-ingest';
const FLOWING_TITLE = "logs flowing into today's indices";

/** The verdict on today's count: documents there, and more of them than at the earlier observation. */
async function judgeFlow(inventory: Inventory, flow: LogsFlow, counted: { today: string; indices: number; count: number }) {
  const { today, indices, count } = counted;
  if (indices === 0 || count === 0) {
    const observed = indices ? `today's ${indices} indices hold no documents` : `no index for ${today}`;
    return { verdict: 'fail' as Verdict, observed, nextStep: ISSUE4 };
  }
  const { previous } = await flow.observe(count);
  if (!previous) {
    const observed = `${count} documents in ${indices} indices today (no observation ${inventory.logs.flowWindowSeconds} s old yet to measure growth)`;
    return { verdict: 'pass' as Verdict, observed };
  }
  const grew = count > previous.count;
  const observed = grew
    ? `${count} documents today, +${count - previous.count} since ${previous.at.toISOString()}`
    : `no new documents since ${previous.at.toISOString()} (${count})`;
  return {
    verdict: (grew ? 'pass' : 'fail') as Verdict,
    observed,
    ...(grew ? {} : { nextStep: `${ISSUE4}; check Logstash (docker-compose logs logstash)` }),
  };
}

/** Logs reach Elasticsearch: today's indices have documents, and more than a while ago. */
function logsFlowingCheck(inventory: Inventory, flow: LogsFlow): CheckDefinition {
  const expected = `today's ${inventory.logs.indexPattern} indices have documents and grew within ${inventory.logs.flowWindowSeconds} s`;
  return {
    id: 'logs:flowing',
    title: FLOWING_TITLE,
    timeoutMs: 2500,
    async run(ctx) {
      try {
        const judged = await judgeFlow(inventory, flow, await flow.todaysCount(ctx));
        return [{ check: 'logs:flowing', title: FLOWING_TITLE, expected, ...judged }];
      } catch (error) {
        const { verdict, observed } = describeFailure(error);
        return [
          { check: 'logs:flowing', title: FLOWING_TITLE, verdict, observed: `Elasticsearch: ${observed}`, expected, nextStep: ISSUE4 },
        ];
      }
    },
  };
}

/** Runbook step 6, Kibana receiving logs: Kibana's level, Elasticsearch's health, logs flowing, Logstash. */
export function logPipelineChecks(inventory: Inventory, http: HttpProbePort, es: ElasticsearchPort, flow: LogsFlow): CheckDefinition[] {
  return [
    probeCheck(
      'kibana:status',
      'Kibana available',
      `${inventory.urls.kibana.replace(/\/$/, '')}/api/status`,
      'status.overall.level available',
      'check erp-kibana (docker-compose logs kibana); a degraded Kibana still answers 200: read its status page',
      http,
      (status, b) => {
        const level = b.status?.overall?.level ?? (status === 503 ? 'unavailable' : 'unknown');
        const verdict: Verdict = level === 'available' ? 'pass' : level === 'degraded' ? 'warn' : 'fail';
        return { verdict, observed: `HTTP ${status}, level ${level}` };
      },
    ),
    singleCheck(
      {
        id: 'elasticsearch:health',
        title: 'Elasticsearch cluster green or yellow',
        timeoutMs: 2000,
        expected: 'green or yellow',
        nextStep: ISSUE4,
        system: 'Elasticsearch',
      },
      async (ctx) => {
        const health = await es.clusterHealth(ctx);
        return {
          verdict: health.status === 'red' ? 'fail' : 'pass',
          observed: `${health.status} (${health.numberOfNodes} node(s), ${health.unassignedShards} unassigned shards)`,
        };
      },
    ),
    logsFlowingCheck(inventory, flow),
    probeCheck(
      'logstash:stats',
      'Logstash answers and processes events',
      `${inventory.urls.logstash.replace(/\/$/, '')}/_node/stats`,
      '200 with pipeline events',
      'check erp-logstash (docker-compose logs logstash); docker-compose restart logstash',
      http,
      (status, b) => {
        if (status !== 200) return { verdict: 'fail', observed: `HTTP ${status}` };
        const events = b.events ?? {};
        const health = b.status ?? 'green';
        return {
          verdict: health === 'red' ? 'fail' : 'pass',
          observed: `events in ${events.in ?? '?'}, out ${events.out ?? '?'}, status ${health}`,
        };
      },
    ),
  ];
}

/**
 * The runbook's `time curl …/api/v1/auth/me -H "Authorization: Bearer …"`: one authenticated
 * request to the backend, timed against the escalation table's P2 "API slow (> 5 s)"
 * (thresholds.apiSlowSeconds). Without a token (apiCheck.token, env ERP_API_TOKEN) the request
 * goes out unauthenticated, a 401 is the expected answer, and only its latency counts.
 */
export function apiLatencyCheck(inventory: Inventory, http: HttpProbePort): CheckDefinition {
  const band = inventory.thresholds.apiSlowSeconds;
  const { path, token } = inventory.apiCheck;
  const url = `${inventory.urls.backend.replace(/\/+$/, '')}${path}`;
  const expectedStatus = token ? 200 : 401;
  return singleCheck(
    {
      id: 'metric:api-request',
      title: `an ${token ? 'authenticated ' : ''}request to ${path} answers within ${band.fail} s (P2 "API slow")`,
      // Long enough to see a request slower than the fail threshold (the checklist's deadline still caps it).
      timeoutMs: Math.round(band.fail * 1000) + 1000,
      expected: `${expectedStatus} in < ${band.fail} s (warn at ${band.warn} s)`,
      nextStep: 'see Common Issues: Issue 2 (High API Response Time): procedure api.high-latency',
      system: 'backend',
    },
    async (ctx) => {
      const res = await http.get(url, { ...ctx, ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
      const seconds = res.latencyMs / 1000;
      const took = `${res.status} in ${seconds.toFixed(2)} s${token ? '' : ' (no apiCheck.token: unauthenticated)'}`;
      if (res.status !== expectedStatus)
        return {
          verdict: 'fail',
          observed: `${took}, expected ${expectedStatus}`,
          nextStep: 'see Common Issues: Issue 6 (API Container Crashes)',
        };
      return { verdict: bandVerdict(seconds, band), observed: took };
    },
  );
}
