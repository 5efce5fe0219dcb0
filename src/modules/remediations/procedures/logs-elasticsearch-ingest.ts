/**
 * Runbook "Common Issues: Issue 4: Elasticsearch Cannot Ingest Logs" as a procedure:
 *   1. cluster health   2. the erp-* indices   3. delete indices older than the retention
 *   4. restart Logstash   5. verify that today's indices receive documents.
 *
 * The runbook's `DELETE erp-*` with a range query does not do what it says (ES 8 refuses
 * wildcards in DELETE, and a delete-index request takes no query): indices are deleted by
 * explicit names, chosen by the date in the name (erp-backend-YYYY.MM.dd). A name without a
 * parsable date is never deleted, only listed.
 *
 * Dates are UTC days: Logstash names daily indices from @timestamp in UTC (%{+YYYY.MM.dd}),
 * and the health module's logs:flowing check reads "today's" indices the same way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { EsIndex } from '../../../integrations/contracts';
import { EscalationError, ProcedureDefinition, StepContext } from '../../../procedures/procedure';
import { containerOf } from '../../../procedures/stack-steps';
import { RemediationDeps } from '../remediation-deps';

const DAY = 86_400_000;
const MAX_LISTED = 500;

const wholeNumber = (what: string, min: number, max: number, example: number) => {
  const error = `must be a whole number of ${what} from ${min} to ${max}, for example ${example}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

export const logsIngestParameters = z
  .object({
    /** Indices whose name's date is more than this many days before today (UTC) are deleted; default the inventory's logs.retentionDays. */
    retentionDays: wholeNumber('days', 1, 3650, 30).optional(),
    /** How long verify waits for today's indices to grow. */
    verifySeconds: wholeNumber('seconds', 5, 600, 30).default(30),
  })
  .strict();
export type LogsIngestParameters = z.infer<typeof logsIngestParameters>;

/** YYYY.MM.dd of a date's UTC day (how Logstash names daily indices). */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10).replaceAll('-', '.');
}

/** The UTC day in an index name ending in -YYYY.MM.dd, or null when there is none (or it is not a real date). */
export function indexDate(name: string): Date | null {
  const m = /-(\d{4})\.(\d{2})\.(\d{2})$/.exec(name);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return date;
}

export interface RetentionSplit {
  retentionDays: number;
  /** Indices of this UTC day or later are kept. */
  keepFrom: string;
  delete: { index: string; date: string; ageDays: number; docsCount: number; storeSizeBytes: number }[];
  keep: string[];
  skipped: { index: string; reason: string }[];
}

/** Splits indices by the date in their names: older than `retentionDays` days before today (UTC) → delete. */
export function splitByRetention(indices: EsIndex[], now: Date, retentionDays: number): RetentionSplit {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const keepFrom = today - retentionDays * DAY;
  const split: RetentionSplit = { retentionDays, keepFrom: utcDay(new Date(keepFrom)), delete: [], keep: [], skipped: [] };
  for (const i of indices) {
    const date = indexDate(i.index);
    if (!date) split.skipped.push({ index: i.index, reason: 'no date YYYY.MM.dd at the end of its name: never deleted by this procedure' });
    else if (date.getTime() < keepFrom) {
      split.delete.push({
        index: i.index,
        date: utcDay(date),
        ageDays: Math.round((today - date.getTime()) / DAY),
        docsCount: i.docsCount,
        storeSizeBytes: i.storeSizeBytes,
      });
    } else split.keep.push(i.index);
  }
  return split;
}

export function logsElasticsearchIngestProcedure(deps: RemediationDeps): ProcedureDefinition<LogsIngestParameters> {
  const { inventory, elasticsearch: es, docker, http, clock } = deps;
  const pattern = inventory.logs.indexPattern;
  const esUrl = inventory.urls.elasticsearch;
  const logstash = () => containerOf(inventory, 'logstash');
  const retentionOf = (p: LogsIngestParameters) => p.retentionDays ?? inventory.logs.retentionDays;
  const call = (ctx: StepContext<unknown>, timeoutMs: number) => ({ timeoutMs, signal: ctx.signal });

  const health = async (ctx: StepContext<unknown>) => {
    try {
      const h = await es.clusterHealth(call(ctx, 15_000));
      return {
        url: esUrl,
        status: h.status,
        clusterName: h.clusterName,
        numberOfNodes: h.numberOfNodes,
        unassignedShards: h.unassignedShards,
        note:
          h.status === 'red'
            ? 'red: some primary shards are unassigned; the old indices are deleted and Logstash restarted next (runbook step 2 onwards)'
            : `${h.status}: as expected (green or yellow)`,
      };
    } catch (error) {
      throw new Error(
        `Elasticsearch at ${esUrl} did not answer its cluster health (${(error as Error).message}): it must run before logs can be ingested; check ${containerOf(inventory, 'elasticsearch')} (docker-compose logs elasticsearch, restart it) and run this procedure again`,
      );
    }
  };

  const listed = async (ctx: StepContext<unknown>) => {
    try {
      return await es.listIndices(pattern, call(ctx, 30_000));
    } catch (error) {
      throw new Error(`listing the ${pattern} indices failed (${(error as Error).message}); check Elasticsearch at ${esUrl}`);
    }
  };

  const indexSummary = async (ctx: StepContext<unknown>) => {
    const indices = await listed(ctx);
    const byHealth: Record<string, number> = {};
    for (const i of indices) byHealth[i.health || 'unknown'] = (byHealth[i.health || 'unknown'] ?? 0) + 1;
    return {
      pattern,
      count: indices.length,
      docsCount: indices.reduce((s, i) => s + i.docsCount, 0),
      storeSizeBytes: indices.reduce((s, i) => s + i.storeSizeBytes, 0),
      byHealth,
      notGreen: indices
        .filter((i) => i.health && i.health !== 'green')
        .map((i) => ({ index: i.index, health: i.health, status: i.status }))
        .slice(0, MAX_LISTED),
      indices: indices.map((i) => i.index).slice(0, MAX_LISTED),
    };
  };

  const deletionPlan = async (ctx: StepContext<LogsIngestParameters>) => {
    const split = splitByRetention(await listed(ctx), clock.now(), retentionOf(ctx.parameters));
    return {
      pattern,
      retentionDays: split.retentionDays,
      keepFrom: split.keepFrom,
      timeBasis: 'UTC day in the index name (as Logstash names daily indices)',
      delete: split.delete,
      deleteCount: split.delete.length,
      deleteDocs: split.delete.reduce((s, d) => s + d.docsCount, 0),
      deleteBytes: split.delete.reduce((s, d) => s + d.storeSizeBytes, 0),
      keptCount: split.keep.length,
      kept: split.keep.slice(0, MAX_LISTED),
      skipped: split.skipped,
    };
  };

  /** Today's (UTC) indices of the pattern and their document count (_count). */
  const todays = async (ctx: StepContext<unknown>) => {
    const today = utcDay(clock.now());
    const names = (await es.listIndices(pattern, call(ctx, 10_000))).map((i) => i.index).filter((n) => n.endsWith(today));
    const count = names.length ? await es.count(names.join(','), call(ctx, 10_000)) : 0;
    return { today, indices: names, count };
  };

  return {
    id: 'logs.elasticsearch-ingest',
    title:
      'Elasticsearch cannot ingest logs: check health, delete old indices by name, restart Logstash, verify logs flow (runbook Issue 4)',
    severity: 'P2',
    domain: 'system',
    parameters: logsIngestParameters,
    // erp:stack: not while emergency.outage restarts or recreates the stack's containers.
    locks: () => ['erp:elasticsearch', 'erp:logstash', 'erp:stack'],
    requiresApproval: false,
    steps: [
      {
        id: 'health',
        title: 'Elasticsearch cluster health (expected green or yellow)',
        timeoutMs: 30_000,
        plan: (ctx) => health(ctx),
        run: (ctx) => health(ctx),
      },
      {
        id: 'indices',
        title: `The ${pattern} indices`,
        timeoutMs: 60_000,
        plan: (ctx) => indexSummary(ctx),
        run: (ctx) => indexSummary(ctx),
      },
      {
        id: 'delete-old',
        title: 'Delete indices older than the retention, by explicit names (never by pattern)',
        timeoutMs: 10 * 60_000,
        plan: (ctx) => deletionPlan(ctx),
        run: async (ctx) => {
          const plan = await deletionPlan(ctx);
          const names = plan.delete.map((d) => d.index);
          if (!names.length) return { ...plan, deleted: [], missing: [], requests: 0, reclaimedBytes: 0 };
          let result;
          try {
            result = await es.deleteIndices(names, call(ctx, 5 * 60_000));
          } catch (error) {
            throw new Error(
              `deleting ${names.length} old indices failed: ${(error as Error).message}; run the procedure again (it deletes what is still there), or check Elasticsearch at ${esUrl}`,
            );
          }
          const still = new Set((await listed(ctx)).map((i) => i.index));
          const remaining = result.deleted.filter((n) => still.has(n));
          if (remaining.length)
            throw new Error(
              `Elasticsearch acknowledged deleting ${remaining.join(', ')} but still lists them; check the cluster (GET ${esUrl}/_cat/indices)`,
            );
          const gone = new Set(result.deleted);
          const deleted = plan.delete.filter((d) => gone.has(d.index));
          return {
            retentionDays: plan.retentionDays,
            keepFrom: plan.keepFrom,
            deleted,
            missing: result.missing,
            requests: result.requests,
            docsDeleted: deleted.reduce((s, d) => s + d.docsCount, 0),
            reclaimedBytes: deleted.reduce((s, d) => s + d.storeSizeBytes, 0),
            keptCount: plan.keptCount,
            skipped: plan.skipped,
          };
        },
      },
      {
        id: 'restart-logstash',
        title: 'Restart Logstash and wait until it runs',
        timeoutMs: 120_000,
        plan: async () => ({
          container: logstash(),
          action: 'docker restart (10 s grace)',
          waitUntil: 'the container runs (healthy, when it has a healthcheck); its monitoring API answering is reported',
          monitoringApi: inventory.urls.logstash,
        }),
        run: async (ctx) => {
          const name = logstash();
          const hasHealthcheck = inventory.stack.services.find((s) => s.container === name)?.healthcheck ?? false;
          const before = await docker.inspectContainer(name, call(ctx, 10_000));
          try {
            await docker.restartContainer(name, { ...call(ctx, 45_000), graceSeconds: 10 });
          } catch (error) {
            throw new Error(
              `restarting ${name} failed: ${(error as Error).message}; check the Docker engine and the container (docker-compose logs logstash), then run the procedure again (the old indices are already deleted)`,
            );
          }
          const started = Date.now();
          const deadline = started + 60_000;
          let info = await docker.inspectContainer(name, call(ctx, 10_000));
          let api: number | string = 'not asked yet';
          while (Date.now() < deadline) {
            if (ctx.signal.aborted) throw new Error(`cancelled while waiting for ${name}`);
            info = await docker.inspectContainer(name, call(ctx, 10_000));
            const up = info.state === 'running' && (!hasHealthcheck || info.health === 'healthy');
            if (up) {
              const probe = await http.get(inventory.urls.logstash, call(ctx, 3000)).catch((e: Error) => ({ status: 0, error: e.message }));
              api = probe.status || (probe as { error?: string }).error || 0;
              if (probe.status >= 200 && probe.status < 300) break;
            }
            await sleep(500);
          }
          if (info.state !== 'running' || (hasHealthcheck && info.health !== 'healthy')) {
            const lines = await docker.tailLogs(name, 20, call(ctx, 10_000)).catch(() => [] as string[]);
            throw new Error(
              `${name} is ${info.state}${hasHealthcheck ? `/${info.health}` : ''} 60 s after its restart: read its logs (docker-compose logs logstash); last lines: ${lines.slice(-5).join(' | ').slice(0, 800)}`,
            );
          }
          return {
            container: name,
            state: info.state,
            health: info.health,
            startedBefore: before.startedAt,
            startedAt: info.startedAt,
            restarted: info.startedAt !== before.startedAt,
            monitoringApi: api,
            waitedMs: Date.now() - started,
          };
        },
      },
      {
        id: 'verify',
        title: "Logs flowing: the document count of today's (UTC) indices grows",
        timeoutMs: (600 + 60) * 1000,
        plan: async (ctx) => {
          const t = await todays(ctx);
          return {
            today: t.today,
            indices: t.indices,
            count: t.count,
            waitSeconds: ctx.parameters.verifySeconds,
            expected: `the _count of today's ${pattern} indices grows within ${ctx.parameters.verifySeconds} s`,
          };
        },
        run: async (ctx) => {
          const seconds = ctx.parameters.verifySeconds;
          const first = await todays(ctx);
          const started = Date.now();
          let last = first;
          while (Date.now() - started < seconds * 1000) {
            await sleep(Math.min(2000, Math.max(100, seconds * 1000 - (Date.now() - started))), undefined, { signal: ctx.signal }).catch(
              () => undefined,
            );
            if (ctx.signal.aborted) throw new Error('cancelled while waiting for logs to flow');
            last = await todays(ctx);
            if (last.count > first.count) {
              return {
                today: last.today,
                indices: last.indices,
                countBefore: first.count,
                countAfter: last.count,
                grewBy: last.count - first.count,
                waitedMs: Date.now() - started,
              };
            }
          }
          const h = await es.clusterHealth(call(ctx, 5000)).then(
            (x) => x.status as string,
            (e: Error) => `unknown (${e.message})`,
          );
          const lines = await docker
            .tailLogs(logstash(), 20, call(ctx, 10_000))
            .catch((e: Error) => [`could not read the logs: ${e.message}`]);
          throw new EscalationError(
            `logs are still not flowing: today's (${last.today} UTC) ${pattern} indices stayed at ${last.count} documents for ${seconds} s after deleting old indices and restarting Logstash (cluster ${h}); check Logstash's pipeline and output (docker-compose logs logstash) and Elasticsearch's disk watermarks`,
            {
              today: last.today,
              indices: last.indices,
              countBefore: first.count,
              countAfter: last.count,
              waitedSeconds: seconds,
              clusterStatus: h,
              logstashLastLines: lines,
              nextStep:
                "hand the Logstash lines above to the Senior Dev; check the pipeline output to Elasticsearch and the cluster's disk (GET _cluster/allocation/explain)",
            },
            'P2',
          );
        },
      },
    ],
  };
}
