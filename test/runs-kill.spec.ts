import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { expect } from 'expect';
import Redis from 'ioredis';
import request from 'supertest';
import { projectRoot } from '../src/common/paths';
import { ProcedureRegistry } from '../src/procedures/procedure-registry';
import { createTestDatabase, dbUrl, dropTestDatabase } from './helpers/db';
import { waitingProcedure } from './helpers/procedure-fixtures';
import { PASSWORD, startTestApp, TestApp } from './helpers/test-app';
import { startControlPlaneProcess } from './helpers/control-plane-process';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('killing the control plane during a run', () => {
  const database = { name: '' };
  const redisPrefix = `t:${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0');
  let child: ChildProcess | undefined;
  let restarted: TestApp | undefined;

  after(async () => {
    child?.kill('SIGKILL');
    await restarted?.close();
    if (database.name) await dropTestDatabase(database.name);
    const keys = await redis.keys(`${redisPrefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('gives an interrupted run after restart, no step left running, and a free lock (released by the sweep, not by lease expiry)', async () => {
    database.name = await createTestDatabase();
    const env = {
      ...process.env,
      OPS_DATABASE_URL: dbUrl(database.name),
      OPS_REDIS_PREFIX: redisPrefix,
      OPS_LOG_LEVEL: 'warn',
      OPS_RATE_LIMIT_PER_MINUTE: '0',
      OPS_SCHEDULER: 'false',
      OPS_STATS_SAMPLER: 'false',
      OPS_INVENTORY: join(projectRoot(), 'ops.example.yaml'),
      OPS_BOOTSTRAP_ADMIN_USERNAME: 'admin',
      OPS_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
    };
    const started = await startControlPlaneProcess(env);
    child = started.child;
    const login = await request(started.url).post('/api/v1/auth/login').send({ username: 'admin', password: PASSWORD });
    const auth = `Bearer ${login.body.accessToken}`;
    const asked = await request(started.url).post('/api/v1/procedures/test.sleeper/runs').set('Authorization', auth).send({});
    expect(asked.status).toBe(201);
    const id = asked.body.id;
    let run: any;
    for (let end = Date.now() + 10_000; Date.now() < end; await sleep(50)) {
      run = (await request(started.url).get(`/api/v1/runs/${id}`).set('Authorization', auth)).body;
      if (run.steps?.[0]?.status === 'running') break;
    }
    expect(run).toMatchObject({ status: 'running', currentStep: 'one' });
    const lockKey = `${redisPrefix}lock:test:test-sleeper`;
    expect(await redis.get(lockKey)).toBe(id);

    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    child = undefined;
    // A lease far longer than the test: only the sweep can free the lock in time.
    expect(await redis.pexpire(lockKey, 600_000)).toBe(1);

    restarted = await startTestApp({ shareWith: { database: database.name, redisPrefix } as TestApp, env: { OPS_STATS_SAMPLER: 'false' } });
    restarted.app.get(ProcedureRegistry).register(waitingProcedure('test.sleeper', { waitMs: 600_000 }));
    const auth2 = `Bearer ${await restarted.login('admin')}`;
    const get = () => restarted!.http().get(`/api/v1/runs/${id}`).set('Authorization', auth2);
    for (let end = Date.now() + 30_000; Date.now() < end; await sleep(200)) {
      run = (await get()).body;
      if (run.status !== 'running') break;
    }
    expect(run).toMatchObject({ status: 'interrupted', error: 'the worker stopped during one', finishedAt: expect.any(String) });
    expect(run.steps.map((s: { status: string }) => s.status)).toEqual(['cancelled', 'cancelled']);
    expect(run.steps.filter((s: { status: string }) => s.status === 'running')).toEqual([]);

    // The sweep released the lock: a new run needing it is accepted (not 409).
    expect(await redis.exists(lockKey)).toBe(0);
    const next = await restarted.http().post('/api/v1/procedures/test.sleeper/runs').set('Authorization', auth2).send({});
    expect([next.status, next.body.message]).toEqual([201, undefined]);
    const cancel = await restarted.http().post(`/api/v1/runs/${next.body.id}/cancel`).set('Authorization', auth2);
    expect(cancel.status).toBe(200);
  });
});
