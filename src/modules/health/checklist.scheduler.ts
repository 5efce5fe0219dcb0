import { Inject, Injectable } from '@nestjs/common';
import { ScheduledJobs } from '../../common/scheduled-jobs';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { MetricsService } from '../../infra/metrics/metrics.service';
import { ChecklistService } from './checklist.service';

export const HEALTH_QUEUE = 'health';
export const HOURLY_HEALTH_QUEUE = 'health-hourly';
export const DAILY_CHECKLIST_SCHEDULER = 'daily-checklist';
export const HOURLY_HEALTH_SCHEDULER = 'hourly-health-check';

/**
 * The daily checklist (schedules.dailyChecklist) and the hourly health check during business
 * hours (schedules.hourlyHealthCheck) on the inventory's schedules: once per tick across
 * replicas; each run records the tick it served (unique per kind in the database as a second guard).
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

/** The hourly health check on its own queue (a slow checklist never delays its ticks), counted in ops_scheduled_hourly_health_jobs_total. */
@Injectable()
export class HourlyHealthScheduler extends ScheduledJobs {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(INVENTORY) inventory: Inventory,
    checklist: ChecklistService,
    metrics: MetricsService,
  ) {
    super({
      config,
      timeZone: inventory.timezone,
      what: 'hourly health check',
      metric: 'hourly_health',
      registry: metrics.registry,
      jobs: [
        {
          id: HOURLY_HEALTH_SCHEDULER,
          queue: HOURLY_HEALTH_QUEUE,
          pattern: inventory.schedules.hourlyHealthCheck,
          name: 'hourly-health-check',
          recordsTick: true,
          run: async ({ tick, identity }) => (await checklist.run('schedule', identity.username, tick, { kind: 'hourly' })).id,
        },
      ],
    });
  }
}
