/** The Elasticsearch side: cluster health, the erp-* indices, and deleting the old ones by name. */
import { EsIndex } from '../../../../integrations/contracts';
import { defineStep, StepContext } from '../../../../procedures/procedure';
import { containerOf } from '../../../../procedures/stack-steps';
import { LogsIngestDeps, LogsIngestParameters, splitByRetention } from './retention';

const MAX_LISTED = 500;

type Ctx = StepContext<LogsIngestParameters>;
export const call = (ctx: StepContext<unknown>, timeoutMs: number) => ({ timeoutMs, signal: ctx.signal });

async function listed({ elasticsearch }: Pick<LogsIngestDeps, 'elasticsearch'>, ctx: Ctx): Promise<EsIndex[]> {
  try {
    return await elasticsearch.listIndices(ctx.inventory.logs.indexPattern, call(ctx, 30_000));
  } catch (error) {
    throw new Error(
      `listing the ${ctx.inventory.logs.indexPattern} indices failed (${(error as Error).message}); check Elasticsearch at ${ctx.inventory.urls.elasticsearch}`,
    );
  }
}

/** The indices as the `indices` step shows them: counts, sizes, the ones not green. */
export function indexSummary(indices: EsIndex[], pattern: string) {
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
}

/** What `delete-old` deletes: indices whose name's UTC day is older than the retention. */
export function deletionPlan(indices: EsIndex[], now: Date, retentionDays: number, pattern: string) {
  const split = splitByRetention(indices, now, retentionDays);
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
}

async function health({ elasticsearch }: Pick<LogsIngestDeps, 'elasticsearch'>, ctx: Ctx) {
  const url = ctx.inventory.urls.elasticsearch;
  try {
    const h = await elasticsearch.clusterHealth(call(ctx, 15_000));
    const note =
      h.status === 'red'
        ? 'red: some primary shards are unassigned; the old indices are deleted and Logstash restarted next (runbook step 2 onwards)'
        : `${h.status}: as expected (green or yellow)`;
    return {
      url,
      status: h.status,
      clusterName: h.clusterName,
      numberOfNodes: h.numberOfNodes,
      unassignedShards: h.unassignedShards,
      note,
    };
  } catch (error) {
    throw new Error(
      `Elasticsearch at ${url} did not answer its cluster health (${(error as Error).message}): it must run before logs can be ingested; check ${containerOf(ctx.inventory, 'elasticsearch')} (docker-compose logs elasticsearch, restart it) and run this procedure again`,
    );
  }
}

export const healthStep = (deps: Pick<LogsIngestDeps, 'elasticsearch'>) =>
  defineStep<LogsIngestParameters>({
    id: 'health',
    title: 'Elasticsearch cluster health (expected green or yellow)',
    timeoutMs: 30_000,
    plan: (ctx) => health(deps, ctx),
    run: (ctx) => health(deps, ctx),
  });

export const indicesStep = (deps: Pick<LogsIngestDeps, 'elasticsearch'>, pattern: string) =>
  defineStep<LogsIngestParameters>({
    id: 'indices',
    title: `The ${pattern} indices`,
    timeoutMs: 60_000,
    plan: async (ctx) => indexSummary(await listed(deps, ctx), ctx.inventory.logs.indexPattern),
    run: async (ctx) => indexSummary(await listed(deps, ctx), ctx.inventory.logs.indexPattern),
  });

const retentionOf = (ctx: Ctx) => ctx.parameters.retentionDays ?? ctx.inventory.logs.retentionDays;

/** Deletes the planned indices by explicit names, then checks that Elasticsearch no longer lists them. */
async function deleteOld(deps: Pick<LogsIngestDeps, 'elasticsearch'>, ctx: Ctx) {
  const plan = deletionPlan(await listed(deps, ctx), ctx.now(), retentionOf(ctx), ctx.inventory.logs.indexPattern);
  const names = plan.delete.map((d) => d.index);
  if (!names.length) return { ...plan, deleted: [], missing: [], requests: 0, reclaimedBytes: 0 };
  const esUrl = ctx.inventory.urls.elasticsearch;
  let result;
  try {
    result = await deps.elasticsearch.deleteIndices(names, call(ctx, 5 * 60_000));
  } catch (error) {
    throw new Error(
      `deleting ${names.length} old indices failed: ${(error as Error).message}; run the procedure again (it deletes what is still there), or check Elasticsearch at ${esUrl}`,
    );
  }
  const still = new Set((await listed(deps, ctx)).map((i) => i.index));
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
}

export const deleteOldStep = (deps: Pick<LogsIngestDeps, 'elasticsearch'>) =>
  defineStep<LogsIngestParameters>({
    id: 'delete-old',
    title: 'Delete indices older than the retention, by explicit names (never by pattern)',
    timeoutMs: 10 * 60_000,
    plan: async (ctx) => deletionPlan(await listed(deps, ctx), ctx.now(), retentionOf(ctx), ctx.inventory.logs.indexPattern),
    run: (ctx) => deleteOld(deps, ctx),
  });
