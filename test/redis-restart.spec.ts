import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { expect } from 'expect';
import Redis from 'ioredis';
import { ScheduledQueue } from '../src/common/scheduled-queue';
import { loadAppConfig } from '../src/config/app-config';
import { Role } from '../src/common/rights';
import { ProcedureDefinition } from '../src/procedures/procedure';
import { ProcedureRegistry } from '../src/procedures/procedure-registry';
import { RunnerService } from '../src/procedures/runner.service';
import { withClient } from './helpers/db';
import { slottedProcedure } from './helpers/procedure-fixtures';
import { OwnRedis } from './helpers/redis-server';
import { startTestApp, TestApp } from './helpers/test-app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  let last = await probe();
  while (!ok(last) && Date.now() < end) {
    await sleep(100);
    last = await probe();
  }
  return last;
}

/** A fixture that locks nothing: requesting it touches Redis only to queue it. */
function lockless(id: string): ProcedureDefinition {
  return { ...(slottedProcedure(id, { waitMs: 100 }) as ProcedureDefinition), locks: () => [] };
}

/**
 * The control plane's own Redis (a redis-server of this test, without persistence) stopped
 * and started under it: requests fail fast, and what Redis forgot (queued jobs, job
 * schedulers, alive keys) does not leave runs stuck or live runs marked interrupted.
 */
describe('its own Redis restarted (without its keys) under the running control plane', () => {
  let redis: OwnRedis;
  let t: TestApp;
  let replica: TestApp;
  let token: string;
  let client: Redis;
  const auth = () => `Bearer ${token}`;
  const runStatus = (id: string) =>
    withClient(t.database, async (c) => (await c.query('SELECT status, error FROM procedure_runs WHERE id = $1', [id])).rows[0]);

  before(async () => {
    redis = await OwnRedis.create();
    const env = { OPS_REDIS_URL: redis.url, OPS_STATS_SAMPLER: 'false', OPS_REQUEST_TIMEOUT_MS: '10000' };
    t = await startTestApp({ env });
    replica = await startTestApp({ env, shareWith: t });
    for (const app of [t, replica]) {
      app.app.get(ProcedureRegistry).register(slottedProcedure('test.slot', { waitMs: 2000 }));
      app.app.get(ProcedureRegistry).register(lockless('test.lockless'));
    }
    token = await t.tokenFor(Role.Operator);
    client = new Redis(redis.url, { keyPrefix: t.redisPrefix });
    client.on('error', () => undefined);
  });
  after(async () => {
    client?.disconnect();
    await replica?.close();
    await t?.close();
    await redis?.stop();
  });

  it('refuses a run at once with 503 and Retry-After while Redis is away, and does not leave it queued', async () => {
    await redis.stop();
    try {
      const started = Date.now();
      const res = await t
        .http()
        .post('/api/v1/procedures/test.lockless/runs')
        .set('Authorization', auth())
        .send({ parameters: { slot: 1 } });
      expect(Date.now() - started).toBeLessThan(5000);
      expect({ status: res.status, error: res.body.error, dependency: res.body.details?.dependency }).toEqual({
        status: 503,
        error: 'DEPENDENCY_UNAVAILABLE',
        dependency: 'redis',
      });
      expect(res.headers['retry-after']).toBe('5');
      const rows = await withClient(
        t.database,
        async (c) => (await c.query("SELECT status, error FROM procedure_runs WHERE procedure_id = 'test.lockless'")).rows,
      );
      expect(rows).toEqual([{ status: 'failed', error: expect.stringMatching(/^not queued: the run could not be queued/) }]);
      // A run that needs a lock is refused by the lock check, also with 503 (it was a 500).
      const locked = await t
        .http()
        .post('/api/v1/procedures/test.slot/runs')
        .set('Authorization', auth())
        .send({ parameters: { slot: 1 } });
      expect([locked.status, locked.body.details?.dependency, locked.headers['retry-after']]).toEqual([503, 'redis', '5']);
    } finally {
      await redis.start();
    }
    await until(
      () => t.http().get('/health/ready'),
      (r) => r.status === 200,
      15_000,
    );
  });

  it('queues again the runs whose jobs a restart lost, and they run', async () => {
    // Eight run at once (two replicas, four each), so four wait in the queue…
    const ids: string[] = [];
    for (let slot = 10; slot < 22; slot++) {
      const res = await t.http().post('/api/v1/procedures/test.slot/runs').set('Authorization', auth()).send({ parameters: { slot } });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    await sleep(300);
    // …when Redis restarts without its keys: those four jobs are gone.
    await redis.stop();
    await redis.start();
    const ended = await until(
      () => Promise.all(ids.map(runStatus)),
      (rows) => rows.every((r) => !['queued', 'running'].includes(r.status)),
      25_000,
    );
    expect(ended.map((r) => r.status)).toEqual(ids.map(() => 'succeeded'));
  });

  it('does not mark a live run interrupted when its alive key vanished, and its worker keeps its lock', async () => {
    const res = await t
      .http()
      .post('/api/v1/procedures/test.slot/runs')
      .set('Authorization', auth())
      .send({ parameters: { slot: 30, waitMs: 14_000 } });
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    await until(
      () => runStatus(id),
      (r) => r.status === 'running',
      10_000,
    );
    await sleep(200);
    // What a restart without persistence does to the run's keys (the replicas keep running).
    await client.del(`run-alive:${id}`, 'lock:test:test-slot-30');
    const swept = await Promise.all([t, replica].map((app) => app.app.get(RunnerService).sweepInterrupted()));
    expect(swept).toEqual([0, 0]);
    expect((await runStatus(id)).status).toBe('running');
    // The lease's heartbeat (every 10 s here) takes the lock back.
    expect(
      await until(
        () => client.get('lock:test:test-slot-30'),
        (holder) => holder === id,
        12_000,
      ),
    ).toBe(id);
    const done = await until(
      () => runStatus(id),
      (r) => r.status !== 'running',
      15_000,
    );
    expect(done.status).toBe('succeeded');
    expect(await client.get('lock:test:test-slot-30')).toBeNull();
  });

  it('registers the job schedulers again after a restart lost them', async () => {
    const prefix = `t:${randomBytes(4).toString('hex')}:`;
    const config = loadAppConfig({ OPS_REDIS_URL: redis.url, OPS_REDIS_PREFIX: prefix, OPS_SCHEDULER: 'true' } as NodeJS.ProcessEnv);
    const scheduled = new ScheduledQueue({
      config,
      queue: 'restart-test',
      timeZone: 'UTC',
      schedule: { id: 'hourly', pattern: '0 * * * *', jobName: 'tick' },
      process: async () => 'ok',
      logger: new Logger('restart-test'),
      what: 'restart test',
    });
    const probe = new Queue('restart-test', {
      connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null },
      prefix: `${prefix}bull`,
    });
    probe.on('error', () => undefined);
    try {
      scheduled.start();
      const count = () =>
        probe.getJobSchedulers().then(
          (s) => s.length,
          () => -1,
        );
      expect(await until(count, (n) => n === 1, 10_000)).toBe(1);
      await redis.stop();
      await redis.start();
      expect(await until(count, (n) => n === 1, 15_000)).toBe(1);
    } finally {
      await scheduled.close();
      await probe.close();
    }
  });
});
