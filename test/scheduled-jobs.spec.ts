import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Logger } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import { expect } from 'expect';
import { Registry } from 'prom-client';
import { ScheduledJob, ScheduledJobs, TickContext } from '../src/common/scheduled-jobs';
import { ScheduledQueue } from '../src/common/scheduled-queue';
import { loadAppConfig } from '../src/config/app-config';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A feature's schedules as the features write them: one job, what it does on a tick. */
class TestSchedule extends ScheduledJobs {
  constructor(prefix: string, registry: Registry, run: ScheduledJob['run'], recordsTick = false) {
    super({
      config: loadAppConfig({ OPS_REDIS_URL: REDIS_URL, OPS_REDIS_PREFIX: prefix, OPS_SCHEDULER: 'true' } as NodeJS.ProcessEnv),
      timeZone: 'UTC',
      what: 'test ticks',
      metric: 'test_tick',
      registry,
      jobs: [{ id: 'every-second', queue: 'scheduled-jobs-test', pattern: '* * * * * *', name: 'tick', recordsTick, run }],
    });
  }
}

/** Two schedules of one feature, each on its own queue: a slow one and a quick one, every second. */
class TwoSchedules extends ScheduledJobs {
  constructor(prefix: string, slow: ScheduledJob['run'], quick: ScheduledJob['run'], quickQueue = 'two-schedules-quick') {
    super({
      config: loadAppConfig({ OPS_REDIS_URL: REDIS_URL, OPS_REDIS_PREFIX: prefix, OPS_SCHEDULER: 'true' } as NodeJS.ProcessEnv),
      timeZone: 'UTC',
      what: 'two schedules',
      metric: 'two_schedules',
      registry: new Registry(),
      jobs: [
        { id: 'slow', queue: 'two-schedules-slow', pattern: '* * * * * *', name: 'slow', run: slow },
        { id: 'quick', queue: quickQueue, pattern: '* * * * * *', name: 'quick', run: quick },
      ],
    });
  }
}

async function counted(registry: Registry, outcome: string): Promise<number> {
  const text = await registry.metrics();
  return Number(new RegExp(`ops_scheduled_test_tick_jobs_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

/** A job of the queue as BullMQ hands it to the worker, for a given tick. */
const jobAt = (tick: number, name = 'tick') =>
  ({ name, id: `repeat:every-second:${tick}`, timestamp: tick, opts: {}, data: {} }) as unknown as Job;

describe('scheduled jobs', () => {
  it('run each tick once across two replicas, as the scheduler, counted as ran', async () => {
    const prefix = `t:${randomBytes(4).toString('hex')}:`;
    const served: TickContext[] = [];
    const run = async (context: TickContext) => {
      served.push(context);
      return 'done';
    };
    const registries = [new Registry(), new Registry()];
    const replicas = registries.map((registry) => new TestSchedule(prefix, registry, run));
    replicas.forEach((replica) => replica.onModuleInit());
    const probe = new Queue('scheduled-jobs-test', { connection: { url: REDIS_URL }, prefix: `${prefix}bull` });
    try {
      const until = Date.now() + 20_000;
      while (served.length < 3 && Date.now() < until) await sleep(100);
      await probe.removeJobScheduler('every-second');
    } finally {
      await Promise.all(replicas.map((replica) => replica.onApplicationShutdown()));
      await probe.obliterate({ force: true }).catch(() => undefined);
      await probe.close();
    }
    const ticks = served.map((c) => c.tick.getTime());
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(ticks.every((t) => t % 1000 === 0)).toBe(true);
    expect(new Set(served.map((c) => `${c.identity.kind}:${c.identity.username}`))).toEqual(new Set(['system:scheduler']));
    const ran = (await counted(registries[0], 'ran')) + (await counted(registries[1], 'ran'));
    expect(ran).toBe(ticks.length);
  });

  it("count the database's refusal of a tick already served as duplicate, and other errors as failed", async () => {
    const registry = new Registry();
    const seen = new Set<number>();
    const schedule = new TestSchedule(
      't:unused:',
      registry,
      async ({ tick }) => {
        if (tick.getTime() === 0) throw new Error('the ERP is down');
        if (seen.has(tick.getTime())) throw Object.assign(new Error('duplicate key value'), { code: '23505' });
        seen.add(tick.getTime());
        return `served ${tick.toISOString()}`;
      },
      true,
    );
    const tick = Date.UTC(2026, 0, 5, 6);
    expect(await schedule.process(jobAt(tick))).toBe('served 2026-01-05T06:00:00.000Z');
    expect(await schedule.process(jobAt(tick))).toBe('already served for this tick');
    await expect(schedule.process(jobAt(0))).rejects.toThrow('the ERP is down');
    expect(await schedule.process(jobAt(tick, 'other'))).toBe('unknown job other');
    expect([await counted(registry, 'ran'), await counted(registry, 'duplicate'), await counted(registry, 'failed')]).toEqual([1, 1, 1]);
  });

  it('let a unique violation fail the job when the handler does not record its tick', async () => {
    const registry = new Registry();
    const schedule = new TestSchedule('t:unused:', registry, async () => {
      throw Object.assign(new Error('duplicate key value'), { code: '23505' });
    });
    await expect(schedule.process(jobAt(Date.UTC(2026, 0, 5, 6)))).rejects.toThrow('duplicate key value');
    expect([await counted(registry, 'duplicate'), await counted(registry, 'failed')]).toEqual([0, 1]);
  });

  it("serve one schedule's ticks while another schedule's job runs, on a single replica", async () => {
    const prefix = `t:${randomBytes(4).toString('hex')}:`;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let slowJobs = 0;
    let slowRunning = false;
    const quickTicks: { tick: number; whileSlowRan: boolean }[] = [];
    const replica = new TwoSchedules(
      prefix,
      async () => {
        slowJobs++;
        slowRunning = true;
        await held;
        slowRunning = false;
        return 'slow done';
      },
      async ({ tick }) => {
        quickTicks.push({ tick: tick.getTime(), whileSlowRan: slowRunning });
        return 'quick done';
      },
    );
    const probes = ['two-schedules-slow', 'two-schedules-quick'].map(
      (name) => new Queue(name, { connection: { url: REDIS_URL }, prefix: `${prefix}bull` }),
    );
    replica.onModuleInit();
    try {
      // The slow job holds this replica's only worker of its queue until released: the quick
      // schedule's ticks must still be taken, by the worker of its own queue.
      const until = Date.now() + 30_000;
      while (quickTicks.filter((t) => t.whileSlowRan).length < 3 && Date.now() < until) await sleep(100);
    } finally {
      release();
      await Promise.all(probes.map((probe, i) => probe.removeJobScheduler(i === 0 ? 'slow' : 'quick')));
      await replica.onApplicationShutdown();
      await Promise.all(probes.map((probe) => probe.obliterate({ force: true }).catch(() => undefined)));
      await Promise.all(probes.map((probe) => probe.close()));
    }
    expect(slowJobs).toBeGreaterThanOrEqual(1);
    expect(quickTicks.filter((t) => t.whileSlowRan).length).toBeGreaterThanOrEqual(3);
    expect(new Set(quickTicks.map((t) => t.tick)).size).toBe(quickTicks.length);
  });

  it('refuse two schedules on one queue', () => {
    const run = async () => 'done';
    expect(() => new TwoSchedules('t:unused:', run, run, 'two-schedules-slow')).toThrow(
      'two schedules: two schedules share the queue two-schedules-slow; each schedule needs a queue of its own',
    );
  });

  it("remove a job scheduler another version left in a schedule's queue", async () => {
    const prefix = `t:${randomBytes(4).toString('hex')}:`;
    const registry = new Registry();
    const probe = new Queue('scheduled-jobs-test', { connection: { url: REDIS_URL }, prefix: `${prefix}bull` });
    // An earlier version's second schedule in this queue, due in an hour.
    await probe.upsertJobScheduler('moved-away', { pattern: '0 * * * *' }, { name: 'moved', data: {} });
    const schedule = new TestSchedule(prefix, registry, async () => 'done');
    schedule.onModuleInit();
    try {
      const until = Date.now() + 15_000;
      let ids: string[] = [];
      do {
        await sleep(100);
        ids = (await probe.getJobSchedulers()).map((s) => s.key);
      } while (!(ids.length === 1 && ids[0] === 'every-second') && Date.now() < until);
      expect(ids).toEqual(['every-second']);
      expect((await probe.getDelayed()).filter((job) => job.name === 'moved')).toEqual([]);
    } finally {
      await probe.removeJobScheduler('every-second');
      await schedule.onApplicationShutdown();
      await probe.obliterate({ force: true }).catch(() => undefined);
      await probe.close();
    }
  });

  it('leave the queue as it is when another replica registers the same schedule: a due tick is neither replaced nor skipped', async () => {
    const prefix = `t:${randomBytes(4).toString('hex')}:`;
    const served: number[] = [];
    const probe = new Queue('scheduled-jobs-test', { connection: { url: REDIS_URL }, prefix: `${prefix}bull` });
    // Paused: no worker takes a job, as when every worker is busy.
    await probe.pause();
    const first = new TestSchedule(prefix, new Registry(), async ({ tick }) => {
      served.push(tick.getTime());
      return 'done';
    });
    const second = new ScheduledQueue({
      config: loadAppConfig({ OPS_REDIS_URL: REDIS_URL, OPS_REDIS_PREFIX: prefix, OPS_SCHEDULER: 'true' } as NodeJS.ProcessEnv),
      queue: 'scheduled-jobs-test',
      timeZone: 'UTC',
      schedule: { id: 'every-second', pattern: '* * * * * *', jobName: 'tick' },
      process: async (job) => {
        served.push(Number(String(job.id).split(':').pop()));
        return 'done';
      },
      logger: new Logger('second-replica'),
      what: 'test ticks',
    });
    try {
      first.onModuleInit();
      let pending: string[] = [];
      const until = Date.now() + 10_000;
      while (pending.length === 0 && Date.now() < until) {
        await sleep(50);
        pending = (await probe.getDelayed()).map((job) => String(job.id));
      }
      expect(pending).toHaveLength(1);
      const due = Number(pending[0].split(':').pop());
      // The tick is due (and the next one too) but not taken; then the second replica starts.
      while (Date.now() < due + 1500) await sleep(50);
      await second.start();
      expect((await probe.getJobs(['delayed', 'waiting'])).map((job) => String(job.id))).toEqual(pending);
      await probe.resume();
      const servedBy = Date.now() + 10_000;
      while (served.length === 0 && Date.now() < servedBy) await sleep(50);
      expect(served[0]).toBe(due);
    } finally {
      await probe.removeJobScheduler('every-second');
      await first.onApplicationShutdown();
      await second.close();
      await probe.obliterate({ force: true }).catch(() => undefined);
      await probe.close();
    }
  });
});
