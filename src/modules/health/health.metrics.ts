import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../../infra/metrics/metrics.service';
import { VERDICTS } from './check';
import { ChecklistKind, itemsOf } from './checklist';
import { ChecklistService } from './checklist.service';

/**
 * Exports, per checklist item, its last verdict (0 pass, 1 warn, 2 unknown, 3 fail) and
 * the time of the last run (and the same for the hourly health check's items), read from the shared latest run at scrape time so that every
 * replica reports the same.
 */
@Injectable()
export class HealthMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly checklist: ChecklistService,
  ) {}

  onModuleInit(): void {
    this.gauges(
      'checklist',
      'ops_checklist',
      "the latest daily checklist run finished (the time of every item's last run)",
      'checklist item',
    );
    this.gauges('hourly', 'ops_hourly_health', 'the latest hourly health check finished', 'item of the hourly health check');
  }

  /** The time of a kind's latest run and each of its items' verdict, read at scrape time. */
  private gauges(kind: ChecklistKind, prefix: string, what: string, itemName: string): void {
    const checklist = this.checklist;
    const items = itemsOf(kind).map((i) => i.id);
    new Gauge({
      name: `${prefix}_last_run_timestamp_seconds`,
      help: `Unix time ${what}`,
      registers: [this.metrics.registry],
      async collect() {
        const run = await checklist.latest(kind).catch(() => null);
        if (run) this.set(run.finishedAt.getTime() / 1000);
      },
    });
    new Gauge({
      name: `${prefix}_item_verdict`,
      help: `Latest verdict per ${itemName}: 0 pass, 1 warn, 2 unknown, 3 fail`,
      labelNames: ['item'] as const,
      registers: [this.metrics.registry],
      async collect() {
        this.reset();
        const run = await checklist.latest(kind).catch(() => null);
        if (!run) return;
        for (const item of run.items) if (items.includes(item.item)) this.set({ item: item.item }, VERDICTS.indexOf(item.verdict));
      },
    });
  }
}
