import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job, JobsOptions } from 'bullmq';
import { Counter, Registry } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { Role } from './rights';
import { Identity } from './request-context';
import { ScheduledQueue, tickOf } from './scheduled-queue';

/** The name scheduled work is requested, recorded and audited under. */
export const SCHEDULER_USERNAME = 'scheduler';

/** The `scheduler` principal: who scheduled runs, checklists, reviews and reports are requested by. */
export const SCHEDULER_IDENTITY: Identity = {
  kind: 'system',
  id: SCHEDULER_USERNAME,
  username: SCHEDULER_USERNAME,
  role: Role.Admin,
  userId: null,
};

/** What a scheduled job's handler is given for one tick. */
export interface TickContext {
  /** The tick this job serves (exact: from the job scheduler's job id). */
  tick: Date;
  /** Who the work is done as: always the `scheduler` principal. */
  identity: Identity;
  /** The BullMQ job, for handlers that keep state across attempts (job data, attempts made). */
  job: Job;
}

/** One schedule of the inventory and what it does on each tick. */
export interface ScheduledJob {
  /** The BullMQ job scheduler's id (the same on every replica). */
  id: string;
  /**
   * The schedule's own queue (in the control plane's Redis, under OPS_REDIS_PREFIX): no other
   * schedule's job may hold back its ticks (see ScheduledQueue).
   */
  queue: string;
  /** Cron expression (inventory schedules.*), read in the inventory's time zone. */
  pattern: string;
  /** The job's name in the queue (and in the log). */
  name: string;
  opts?: JobsOptions;
  /**
   * The handler records its tick under a unique constraint, so the database refuses a second
   * run of the same tick: that refusal is counted as `duplicate` and ends the job quietly.
   */
  recordsTick?: boolean;
  /** Does the work of one tick; what it answers is kept as the job's result. */
  run(context: TickContext): Promise<string>;
}

export interface ScheduledJobsOptions {
  config: AppConfig;
  /** The inventory's time zone. */
  timeZone: string;
  /** What is scheduled, for the log ("daily checklist"). */
  what: string;
  /** The metric's name part: `ops_scheduled_<metric>_jobs_total{outcome}`. */
  metric: string;
  /** Where the metric is registered (the control plane's /metrics registry). */
  registry: Registry;
  jobs: ScheduledJob[];
  lockDuration?: number;
}

/** PostgreSQL's unique violation: the database's refusal of a tick already served. */
const UNIQUE_VIOLATION = '23505';

/**
 * A feature's schedules as a provider: extend it, pass the schedules to the constructor, and
 * the rest is here. Each tick runs once across replicas (a BullMQ job scheduler: one job per
 * tick, taken by one worker; handlers that record their tick add the database's unique
 * constraint as a second guard), as the `scheduler` principal, and is counted in
 * `ops_scheduled_<metric>_jobs_total{outcome}` (ran, duplicate, failed). Each schedule has a
 * queue and a worker per replica of its own, so that a long job of one schedule (a restore
 * drill) never delays or swallows the ticks of another (the daily backup). Nothing starts
 * when OPS_SCHEDULER=false.
 */
export abstract class ScheduledJobs implements OnModuleInit, OnApplicationShutdown {
  private readonly scheduled: ScheduledQueue[];
  private readonly processed: Counter<'outcome'>;
  private readonly jobs: Map<string, ScheduledJob>;

  protected constructor(options: ScheduledJobsOptions) {
    this.jobs = new Map(options.jobs.map((job) => [job.name, job]));
    this.processed = new Counter({
      name: `ops_scheduled_${options.metric}_jobs_total`,
      help: `Scheduled ${options.what} jobs this replica took: ran, duplicate (refused by the database: a tick already served), or failed`,
      labelNames: ['outcome'] as const,
      registers: [options.registry],
    });
    const queues = options.jobs.map((job) => job.queue);
    const shared = queues.find((queue, i) => queues.indexOf(queue) !== i);
    if (shared) throw new Error(`${options.what}: two schedules share the queue ${shared}; each schedule needs a queue of its own`);
    const logger = new Logger(this.constructor.name);
    this.scheduled = options.jobs.map(
      (job) =>
        new ScheduledQueue({
          config: options.config,
          queue: job.queue,
          timeZone: options.timeZone,
          schedule: { id: job.id, pattern: job.pattern, jobName: job.name, opts: job.opts },
          process: (bullJob) => this.process(bullJob),
          logger,
          what: options.what,
          lockDuration: options.lockDuration,
        }),
    );
  }

  /** One job of the queue: the tick's work, counted; a tick already served is not an error. */
  async process(job: Job): Promise<string> {
    const scheduled = this.jobs.get(job.name);
    if (!scheduled) return `unknown job ${job.name}`;
    try {
      const result = await scheduled.run({ tick: tickOf(job), identity: SCHEDULER_IDENTITY, job });
      this.processed.inc({ outcome: 'ran' });
      return result;
    } catch (error) {
      if (scheduled.recordsTick && (error as { code?: string }).code === UNIQUE_VIOLATION) {
        this.processed.inc({ outcome: 'duplicate' });
        return 'already served for this tick';
      }
      this.processed.inc({ outcome: 'failed' });
      throw error;
    }
  }

  onModuleInit(): void {
    // In the background: a Redis that is down at start must not hold the start-up.
    for (const scheduled of this.scheduled) void scheduled.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.scheduled.map((scheduled) => scheduled.close()));
  }
}
