import { Gauge, Registry } from 'prom-client';

/** Shared by every kind of report: one gauge, one label per kind (daily_review, performance, …). */
export const REPORT_LAST_GENERATED = 'ops_report_last_generated_timestamp';

/** Reads the time the latest report of a kind was generated (null when there is none). */
export type LatestReportTime = () => Promise<Date | null>;

const kindsByRegistry = new WeakMap<Registry, Map<string, LatestReportTime>>();

async function collectKinds(gauge: Gauge<'kind'>, kinds: Map<string, LatestReportTime>): Promise<void> {
  const times = await Promise.all([...kinds].map(async ([kind, read]) => [kind, await read().catch(() => null)] as const));
  for (const [kind, at] of times) {
    if (at) gauge.set({ kind }, at.getTime() / 1000);
    else gauge.remove({ kind });
  }
}

/**
 * Adds a kind of report to `ops_report_last_generated_timestamp{kind}`, read at scrape time
 * (from the database) so that every replica reports the same. The gauge is created once per
 * registry by whichever module registers first; when a gauge of that name already exists
 * (made without this helper), the kinds are added to its collection instead, so that the
 * two never clash. Call it from onApplicationBootstrap, after every module's own metrics.
 */
export function registerReportKind(registry: Registry, kind: string, latest: LatestReportTime): void {
  let kinds = kindsByRegistry.get(registry);
  if (!kinds) {
    const map = new Map<string, LatestReportTime>();
    kinds = map;
    kindsByRegistry.set(registry, map);
    const existing = registry.getSingleMetric(REPORT_LAST_GENERATED) as (Gauge<'kind'> & { collect?: () => unknown }) | undefined;
    if (existing) {
      const original = existing.collect;
      existing.collect = async function (this: Gauge<'kind'>) {
        await original?.call(this);
        await collectKinds(this, map);
      };
    } else {
      new Gauge({
        name: REPORT_LAST_GENERATED,
        help: 'Unix time (seconds) the latest report of each kind was generated',
        labelNames: ['kind'] as const,
        registers: [registry],
        async collect() {
          await collectKinds(this, map);
        },
      });
    }
  }
  kinds.set(kind, latest);
}
