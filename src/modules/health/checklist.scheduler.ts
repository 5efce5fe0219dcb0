import { Inject, Injectable } from '@nestjs/common';
import { ScheduledJobs } from '../../common/scheduled-jobs';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { MetricsService } from '../../infra/metrics/metrics.service';
import { ChecklistService } from './checklist.service';

export const HEALTH_QUEUE = 'health';
export const DAILY_CHECKLIST_SCHEDULER = 'daily-checklist';

/**
 * The daily checklist on the inventory's schedule (schedules.dailyChecklist): once per tick
 * across replicas; the run records the tick it served (unique in the database as a second guard).
 */
@Injectable()
export class ChecklistScheduler extends ScheduledJobs {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(INVENTORY) inventory: Inventory,
    checklist: ChecklistService,
    metrics: MetricsService,
  ) {
    super({
      config,
      timeZone: inventory.timezone,
      what: 'daily checklist',
      metric: 'checklist',
      registry: metrics.registry,
      jobs: [
        {
          id: DAILY_CHECKLIST_SCHEDULER,
          queue: HEALTH_QUEUE,
          pattern: inventory.schedules.dailyChecklist,
          name: 'checklist',
          recordsTick: true,
          run: async ({ tick, identity }) => (await checklist.run('schedule', identity.username, tick)).id,
        },
      ],
    });
  }
}
