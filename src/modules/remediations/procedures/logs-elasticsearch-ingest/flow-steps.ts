/** The Logstash side: restart it, then watch today's indices grow (logs flowing again). */
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerInfo } from '../../../../integrations/contracts';
import { defineStep, EscalationError, StepContext } from '../../../../procedures/procedure';
import { containerOf } from '../../../../procedures/stack-steps';
import { call } from './index-steps';
import { LogsIngestDeps, LogsIngestParameters, utcDay } from './retention';

type Ctx = StepContext<LogsIngestParameters>;

/**
 * Waits up to 60 s until Logstash runs (healthy, when it has a healthcheck) and, once it does,
 * until its monitoring API answers 2xx; returns its last state and what the API said.
 */
async function waitForLogstash({ docker, http }: Pick<LogsIngestDeps, 'docker' | 'http'>, ctx: Ctx, name: string) {
  const hasHealthcheck = ctx.inventory.stack.services.find((s) => s.container === name)?.healthcheck ?? false;
  const deadline = Date.now() + 60_000;
  let info = await docker.inspectContainer(name, call(ctx, 10_000));
  let api: number | string = 'not asked yet';
  while (Date.now() < deadline) {
    if (ctx.signal.aborted) throw new Error(`cancelled while waiting for ${name}`);
    info = await docker.inspectContainer(name, call(ctx, 10_000));
    if (info.state === 'running' && (!hasHealthcheck || info.health === 'healthy')) {
      const probe = await http.get(ctx.inventory.urls.logstash, call(ctx, 3000)).catch((e: Error) => ({ status: 0, error: e.message }));
      api = probe.status || (probe as { error?: string }).error || 0;
      if (probe.status >= 200 && probe.status < 300) break;
    }
    await sleep(500);
  }
  const up = info.state === 'running' && (!hasHealthcheck || info.health === 'healthy');
  return { info, api, up, shown: `${info.state}${hasHealthcheck ? `/${info.health}` : ''}` };
}

async function restartLogstash(deps: Pick<LogsIngestDeps, 'docker' | 'http'>, ctx: Ctx) {
  const name = containerOf(ctx.inventory, 'logstash');
  const before: ContainerInfo = await deps.docker.inspectContainer(name, call(ctx, 10_000));
  try {
    await deps.docker.restartContainer(name, { ...call(ctx, 45_000), graceSeconds: 10 });
  } catch (error) {
    throw new Error(
      `restarting ${name} failed: ${(error as Error).message}; check the Docker engine and the container (docker-compose logs logstash), then run the procedure again (the old indices are already deleted)`,
    );
  }
  const started = Date.now();
  const { info, api, up, shown } = await waitForLogstash(deps, ctx, name);
  if (!up) {
    const lines = await deps.docker.tailLogs(name, 20, call(ctx, 10_000)).catch(() => [] as string[]);
    throw new Error(
      `${name} is ${shown} 60 s after its restart: read its logs (docker-compose logs logstash); last lines: ${lines.slice(-5).join(' | ').slice(0, 800)}`,
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
}

export const restartLogstashStep = (deps: Pick<LogsIngestDeps, 'docker' | 'http'>) =>
  defineStep<LogsIngestParameters>({
    id: 'restart-logstash',
    title: 'Restart Logstash and wait until it runs',
    timeoutMs: 120_000,
    plan: async (ctx) => ({
      container: containerOf(ctx.inventory, 'logstash'),
      action: 'docker restart (10 s grace)',
      waitUntil: 'the container runs (healthy, when it has a healthcheck); its monitoring API answering is reported',
      monitoringApi: ctx.inventory.urls.logstash,
    }),
    run: (ctx) => restartLogstash(deps, ctx),
  });

/** Today's (UTC) indices of the pattern and their document count (_count). */
async function todays({ elasticsearch }: Pick<LogsIngestDeps, 'elasticsearch'>, ctx: Ctx) {
  const today = utcDay(ctx.now());
  const names = (await elasticsearch.listIndices(ctx.inventory.logs.indexPattern, call(ctx, 10_000)))
    .map((i) => i.index)
    .filter((n) => n.endsWith(today));
  const count = names.length ? await elasticsearch.count(names.join(','), call(ctx, 10_000)) : 0;
  return { today, indices: names, count };
}

/** Logs still not flowing: what to hand the Senior Dev (cluster status, Logstash's last lines). */
async function notFlowing(deps: LogsIngestDeps, ctx: Ctx, first: { count: number }, last: Awaited<ReturnType<typeof todays>>) {
  const seconds = ctx.parameters.verifySeconds;
  const pattern = ctx.inventory.logs.indexPattern;
  const h = await deps.elasticsearch.clusterHealth(call(ctx, 5000)).then(
    (x) => x.status as string,
    (e: Error) => `unknown (${e.message})`,
  );
  const lines = await deps.docker
    .tailLogs(containerOf(ctx.inventory, 'logstash'), 20, call(ctx, 10_000))
    .catch((e: Error) => [`could not read the logs: ${e.message}`]);
  return new EscalationError(
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
}

async function watchFlow(deps: LogsIngestDeps, ctx: Ctx) {
  const seconds = ctx.parameters.verifySeconds;
  const first = await todays(deps, ctx);
  const started = Date.now();
  let last = first;
  while (Date.now() - started < seconds * 1000) {
    await sleep(Math.min(2000, Math.max(100, seconds * 1000 - (Date.now() - started))), undefined, { signal: ctx.signal }).catch(
      () => undefined,
    );
    if (ctx.signal.aborted) throw new Error('cancelled while waiting for logs to flow');
    last = await todays(deps, ctx);
    if (last.count > first.count) {
      const grewBy = last.count - first.count;
      return {
        today: last.today,
        indices: last.indices,
        countBefore: first.count,
        countAfter: last.count,
        grewBy,
        waitedMs: Date.now() - started,
      };
    }
  }
  throw await notFlowing(deps, ctx, first, last);
}

export const verifyFlowStep = (deps: LogsIngestDeps) =>
  defineStep<LogsIngestParameters>({
    id: 'verify',
    title: "Logs flowing: the document count of today's (UTC) indices grows",
    timeoutMs: (600 + 60) * 1000,
    plan: async (ctx) => {
      const t = await todays(deps, ctx);
      const seconds = ctx.parameters.verifySeconds;
      const expected = `the _count of today's ${ctx.inventory.logs.indexPattern} indices grows within ${seconds} s`;
      return { today: t.today, indices: t.indices, count: t.count, waitSeconds: seconds, expected };
    },
    run: (ctx) => watchFlow(deps, ctx),
  });
