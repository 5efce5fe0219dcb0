import { Logger } from '@nestjs/common';
import { Job, JobSchedulerJson, JobsOptions, Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { closeQueueClients } from './bounded-close';
import { throttledWarn } from './throttled-log';

export interface ScheduleEntry {
  /** The BullMQ job scheduler's id (the same on every replica). */
  id: string;
  /** Cron expression (inventory schedules.*). */
  pattern: string;
  jobName: string;
  opts?: JobsOptions;
}

export interface ScheduledQueueOptions {
  config: AppConfig;
  /** The queue's name (in the control plane's Redis, under OPS_REDIS_PREFIX): this schedule's alone. */
  queue: string;
  /** The inventory's time zone: cron expressions are read in it. */
  timeZone: string;
  schedule: ScheduleEntry;
  process(job: Job): Promise<string>;
  logger: Logger;
  /** What is scheduled, for the log ("daily checklist"). */
  what: string;
  lockDuration?: number;
}

/**
 * One cron schedule of the inventory as a BullMQ job scheduler in a queue of its own: every
 * replica registers the same one and runs a worker; each tick makes one job that one worker
 * takes, so a scheduled task runs once whatever the number of replicas.
 *
 * One schedule per queue because a job scheduler makes its next job only when a worker takes
 * the current one, for the first tick after that moment: while every worker of the queue is
 * busy, the due job waits and the ticks that pass meanwhile are never made. Sharing a queue
 * would let one schedule's long job (a restore drill) delay or swallow another's ticks (the
 * daily backup). For the same reason the queue holds no other job scheduler: one left by an
 * earlier version (a schedule that moved to a queue of its own) is removed at registration.
 *
 * Registration happens in the background and is retried (a Redis that is down at start must
 * not hold the start-up; readiness reports it). Nothing starts when OPS_SCHEDULER=false.
 */
export class ScheduledQueue {
  private queue?: Queue;
  private worker?: Worker;
  private connection?: Redis;
  private retry?: NodeJS.Timeout;
  private closing = false;

  constructor(private readonly options: ScheduledQueueOptions) {}

  /** Starts the worker and registers the schedule; the promise ends with the first attempt (for tests: none waits). */
  start(): Promise<void> {
    const { config, logger } = this.options;
    if (!config.OPS_SCHEDULER) return Promise.resolve();
    this.connection = new Redis(config.OPS_REDIS_URL, { maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
    // A Redis that restarted without its keys lost the job schedulers: register them again
    // on every reconnect (upserts, so a Redis that kept them is unchanged).
    let connectedBefore = false;
    this.connection.on('ready', () => {
      if (connectedBefore && !this.closing) {
        clearTimeout(this.retry);
        void this.register();
      }
      connectedBefore = true;
    });
    const prefix = `${config.OPS_REDIS_PREFIX}bull`;
    const name = this.options.queue;
    this.queue = new Queue(name, { connection: this.connection, prefix });
    const warn = throttledWarn((message) => logger.warn(message));
    this.queue.on('error', (error) => warn(`${name} queue: ${error.message}`));
    this.worker = new Worker(name, (job) => this.options.process(job), {
      connection: this.connection,
      prefix,
      concurrency: 1,
      ...(this.options.lockDuration ? { lockDuration: this.options.lockDuration } : {}),
    });
    this.worker.on('error', (error) => warn(`${name} queue: ${error.message}`));
    return this.register();
  }

  private async register(attempt = 1): Promise<void> {
    if (!this.queue || this.closing) return;
    const { schedule, timeZone, logger, what, queue } = this.options;
    try {
      const opts = { removeOnComplete: 100, removeOnFail: 100, ...schedule.opts };
      // An upsert replaces the scheduler's pending job by one for the first tick after now: a
      // tick that is due but not taken yet (the workers busy) would be lost at every replica's
      // start and every reconnect. A scheduler already registered as wanted is left alone.
      const registered = await this.queue.getJobScheduler(schedule.id);
      if (!registered || !sameScheduler(registered, { pattern: schedule.pattern, tz: timeZone, name: schedule.jobName, opts }))
        await this.queue.upsertJobScheduler(
          schedule.id,
          { pattern: schedule.pattern, tz: timeZone },
          { name: schedule.jobName, data: {}, opts },
        );
      for (const other of await this.queue.getJobSchedulers()) {
        if (other.key === schedule.id) continue;
        await this.queue.removeJobScheduler(other.key);
        logger.log(`${what}: job scheduler ${other.key} removed from the queue ${queue} (a queue serves one schedule)`);
      }
      logger.log(`${what} scheduled: ${schedule.jobName} "${schedule.pattern}" (${timeZone}, queue ${queue})`);
    } catch (error) {
      logger.warn(`${what} not scheduled yet (attempt ${attempt}): ${(error as Error).message}`);
      this.retry = setTimeout(() => void this.register(attempt + 1), Math.min(30_000, 1000 * attempt));
      this.retry.unref();
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retry);
    await closeQueueClients({ worker: this.worker, queue: this.queue, connection: this.connection });
  }
}

/**
 * The tick a scheduler's job serves: its id ends with the tick's exact time
 * (repeat:<scheduler>:<millis>); timestamp + delay only approximates it (by a few 100 ms).
 */
export function tickOf(job: Job): Date {
  const exact = /:(\d{12,})$/.exec(String(job.id ?? ''));
  return new Date(exact ? Number(exact[1]) : job.timestamp + (job.opts.delay ?? 0));
}

/** JSON with object keys sorted: Redis gives a scheduler's template options back in another order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

/** The scheduler in Redis has the pattern, time zone, job name and job options wanted. */
function sameScheduler(registered: JobSchedulerJson, wanted: { pattern: string; tz: string; name: string; opts: JobsOptions }): boolean {
  return (
    registered.pattern === wanted.pattern &&
    registered.tz === wanted.tz &&
    registered.name === wanted.name &&
    canonical(registered.template?.opts ?? {}) === canonical(wanted.opts)
  );
}
