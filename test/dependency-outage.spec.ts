import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Client } from 'pg';
import { ensureDatabase } from '../src/infra/database/ensure-database';
import { migrate } from '../src/infra/database/migrator';
import { ProcedureDefinition } from '../src/procedures/procedure';
import { ProcedureRegistry } from '../src/procedures/procedure-registry';
import { Role } from '../src/common/rights';
import { onExit } from './helpers/on-exit';
import { OwnPostgres } from './helpers/own-postgres';
import { waitingProcedure } from './helpers/procedure-fixtures';
import { OwnRedis } from './helpers/redis-server';
import { startTestApp, TestApp } from './helpers/test-app';
import { randomBytes } from 'node:crypto';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A dry run whose plan takes `ms` (so that the database can go away while it plans). */
function slowPlan(id: string, ms: number): ProcedureDefinition {
  const base = waitingProcedure(id) as ProcedureDefinition;
  return { ...base, steps: [{ ...base.steps[0], plan: async () => (await sleep(ms), { planned: true }) }, base.steps[1]] };
}

/**
 * The control plane on a PostgreSQL of its own that this test stops (pg_ctl stop -m fast) and
 * starts again: what a client sees while it is away, and that it comes back by itself.
 */
describe('its own PostgreSQL stopped and started under the running control plane', () => {
  let dir: string;
  let pg: OwnPostgres;
  let redis: OwnRedis;
  let t: TestApp;
  let token: string;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'erp-outage-'));
    chmodSync(dir, 0o755);
    onExit(() => rmSync(dir, { recursive: true, force: true }));
    [pg, redis] = await Promise.all([OwnPostgres.create(join(dir, 'pg')), OwnRedis.create()]);
    url = pg.url('ops');
    await ensureDatabase(url);
    await migrate(url);
    t = await startTestApp({
      shareWith: { database: 'ops', redisPrefix: `t:${randomBytes(4).toString('hex')}:` } as TestApp,
      env: { OPS_DATABASE_URL: url, OPS_REDIS_URL: redis.url, OPS_STATS_SAMPLER: 'false', OPS_REQUEST_TIMEOUT_MS: '10000' },
    });
    t.app.get(ProcedureRegistry).register(slowPlan('test.slow-plan', 1500));
    token = await t.tokenFor(Role.SeniorDev);
  });
  after(async () => {
    await t?.close();
    await pg?.stop().catch(() => pg.kill());
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After naming the database (REST and GraphQL), not 500, and 200 again once it is back', async () => {
    expect((await t.http().get('/api/v1/runs').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    await pg.stop();
    try {
      const started = Date.now();
      const rest = await t.http().get('/api/v1/runs').set('Authorization', `Bearer ${token}`);
      expect(Date.now() - started).toBeLessThan(6000);
      expect({ status: rest.status, error: rest.body.error, dependency: rest.body.details?.dependency }).toEqual({
        status: 503,
        error: 'DEPENDENCY_UNAVAILABLE',
        dependency: 'database',
      });
      expect(rest.headers['retry-after']).toBe('5');
      expect(rest.body.message).toMatch(/cannot reach its database/);
      const gql = await t.gql(token, '{ runs(limit: 1) { items { id } } }');
      expect(gql.body.errors[0].extensions).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        errorCode: 'DEPENDENCY_UNAVAILABLE',
        status: 503,
        retryAfter: 5,
        details: { dependency: 'database' },
      });
      const ready = await t.http().get('/health/ready');
      expect(ready.status).toBe(503);
    } finally {
      await pg.start();
    }
    const until = Date.now() + 15_000;
    let back = 0;
    while (Date.now() < until) {
      back = (await t.http().get('/api/v1/runs').set('Authorization', `Bearer ${token}`)).status;
      if (back === 200) break;
      await sleep(100);
    }
    expect(back).toBe(200);
  });

  it('does not leave a dry run "running" when the database went away while it planned: its end is written once it is back', async () => {
    const pending = t
      .http()
      .post('/api/v1/procedures/test.slow-plan/runs')
      .set('Authorization', `Bearer ${token}`)
      .send({ dryRun: true })
      .then((r) => r);
    let id: string | undefined;
    const db = new Client({ connectionString: url });
    await db.connect();
    try {
      for (let i = 0; i < 100 && !id; i++) {
        id = (await db.query("SELECT id FROM procedure_runs WHERE procedure_id = 'test.slow-plan' AND status = 'running'")).rows[0]?.id;
        if (!id) await sleep(20);
      }
    } finally {
      await db.end();
    }
    expect(id).toBeDefined();
    await pg.stop();
    const answer = await pending;
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('5');
    await pg.start();
    const check = new Client({ connectionString: url });
    await check.connect();
    try {
      let row: { status: string; error: string | null } | undefined;
      for (let end = Date.now() + 15_000; Date.now() < end; await sleep(200)) {
        row = (await check.query('SELECT status, error FROM procedure_runs WHERE id = $1', [id])).rows[0];
        if (row?.status !== 'running') break;
      }
      expect(row).toMatchObject({ status: 'failed', error: expect.stringMatching(/dry run stopped: its record could not be written/) });
      const steps = (await check.query('SELECT status FROM procedure_steps WHERE run_id = $1 ORDER BY position', [id])).rows.map(
        (r) => r.status,
      );
      expect(steps).not.toContain('pending');
      expect(steps).not.toContain('running');
    } finally {
      await check.end();
    }
  });
});
