import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../../infra/metrics/metrics.service';
import { VERDICTS } from './check';
import { CHECKLIST_ITEMS, HOURLY_ITEMS } from './checklist';
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
    const checklist = this.checklist;
    new Gauge({
      name: 'ops_checklist_last_run_timestamp_seconds',
      help: "Unix time the latest daily checklist run finished (the time of every item's last run)",
      registers: [this.metrics.registry],
      async collect() {
        const run = await checklist.latest().catch(() => null);
        if (run) this.set(run.finishedAt.getTime() / 1000);
      },
    });
    new Gauge({
      name: 'ops_checklist_item_verdict',
      help: 'Latest verdict per checklist item: 0 pass, 1 warn, 2 unknown, 3 fail',
      labelNames: ['item'] as const,
      registers: [this.metrics.registry],
      async collect() {
        this.reset();
        const run = await checklist.latest().catch(() => null);
        if (!run) return;
        for (const item of run.items) {
          if (CHECKLIST_ITEMS.some((i) => i.id === item.item)) this.set({ item: item.item }, VERDICTS.indexOf(item.verdict));
        }
      },
    });
    new Gauge({
      name: 'ops_hourly_health_last_run_timestamp_seconds',
      help: 'Unix time the latest hourly health check finished',
      registers: [this.metrics.registry],
      async collect() {
        const run = await checklist.latest('hourly').catch(() => null);
        if (run) this.set(run.finishedAt.getTime() / 1000);
      },
    });
    new Gauge({
      name: 'ops_hourly_health_item_verdict',
      help: 'Latest verdict per item of the hourly health check: 0 pass, 1 warn, 2 unknown, 3 fail',
      labelNames: ['item'] as const,
      registers: [this.metrics.registry],
      async collect() {
        this.reset();
        const run = await checklist.latest('hourly').catch(() => null);
        if (!run) return;
        for (const item of run.items) {
          if (HOURLY_ITEMS.includes(item.item)) this.set({ item: item.item }, VERDICTS.indexOf(item.verdict));
        }
      },
    });
  }
}
