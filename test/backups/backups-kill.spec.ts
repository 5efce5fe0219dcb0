/**
 * Killing the control plane during a restore: the database rolls back by itself (no COMMIT
 * was sent), and after the restart the run is `interrupted`, the backend it had stopped is
 * started again by the sweep, and the locks are free.
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { expect } from 'expect';
import Redis from 'ioredis';
import { Client } from 'pg';
import request from 'supertest';
import { projectRoot } from '../../src/common/paths';
import { createTestDatabase, dbUrl, dropTestDatabase } from '../helpers/db';
import { PASSWORD, startTestApp, TestApp } from '../helpers/test-app';
import { healthStatus, REPO_ROOT, stackSql, waitFor } from '../stack/stack-helpers';
import { startControlPlaneProcess } from '../helpers/control-plane-process';

const ERP_DB = 'erp_quty_karunia_prod';
const SERVER = 'postgres://postgres:erp-stack-dev@127.0.0.1:15432';

const erp = (text: string) => stackSql(ERP_DB, text);

describe('killing the control plane during a restore', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'erp-backups-kill-'));
  const redisPrefix = `t:${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0');
  let database = '';
  let child: ChildProcess | undefined;
  let restarted: TestApp | undefined;
  let blocker: Client | undefined;

  after(async () => {
    child?.kill('SIGKILL');
    await blocker?.end().catch(() => undefined);
    await restarted?.close();
    if (database) await dropTestDatabase(database);
    const keys = await redis.keys(`${redisPrefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
    // Whatever happened, the stand-in's backend runs again.
    execFileSync('docker', ['start', 'erp-backend'], { stdio: 'ignore' });
  });

  it('rolls the database back, marks the run interrupted, starts the backend again and frees the locks', async () => {
    execFileSync('node', [path.join(REPO_ROOT, 'scripts/stack/seed.js'), '--scale', 'small', '--seed', '12', '--anchor', '2026-01-19'], {
      encoding: 'utf8',
    });
    database = await createTestDatabase();
    const inventoryFile = join(dir, 'ops.yaml');
    writeFileSync(
      inventoryFile,
      readFileSync(join(projectRoot(), 'stack/ops.stack.yaml'), 'utf8').replace(/directory: .*/, `directory: ${dir}`),
    );
    const env = {
      ...process.env,
      OPS_DATABASE_URL: dbUrl(database),
      OPS_REDIS_PREFIX: redisPrefix,
      OPS_LOG_LEVEL: 'warn',
      OPS_RATE_LIMIT_PER_MINUTE: '0',
      OPS_SCHEDULER: 'false',
      OPS_STATS_SAMPLER: 'false',
      OPS_INVENTORY: inventoryFile,
      OPS_BOOTSTRAP_ADMIN_USERNAME: 'admin',
      OPS_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
    };
    const started = await startControlPlaneProcess(env);
    child = started.child;
    const http = () => request(started.url);
    const login = async (username: string) =>
      `Bearer ${(await http().post('/api/v1/auth/login').send({ username, password: PASSWORD })).body.accessToken}`;
    const admin = await login('admin');
    for (const [username, role] of [
      ['kdba', 'dba'],
      ['ksenior', 'senior_dev'],
    ]) {
      expect((await http().post('/api/v1/users').set('Authorization', admin).send({ username, password: PASSWORD, role })).status).toBe(
        201,
      );
    }
    const dba = await login('kdba');
    const senior = await login('ksenior');
    const made = await http().post('/api/v1/backups?wait=true').set('Authorization', admin).send({});
    expect(made.body.run.status).toBe('succeeded');
    const id = made.body.backup.id;
    expect(
      (await http().post(`/api/v1/backups/${id}/verify?wait=true`).set('Authorization', admin).send({})).body.backup.verifyStatus,
    ).toBe('verified');

    await erp("UPDATE public.products SET name = name || ' before-kill' WHERE id <= 5");
    const before = await erp("SELECT md5(string_agg(p::text, ',' ORDER BY id)) AS h FROM public.products p");
    // A reader holds the table: the restore waits inside its transaction, backend stopped.
    blocker = new Client({ connectionString: `${SERVER}/${ERP_DB}` });
    blocker.on('error', () => undefined);
    await blocker.connect();
    await blocker.query('BEGIN; SELECT count(*) FROM public.products');
    const asked = await http().post(`/api/v1/backups/${id}/restore`).set('Authorization', dba).send({ confirm: ERP_DB });
    const runId = asked.body.run.id;
    expect((await http().post(`/api/v1/runs/${runId}/approve`).set('Authorization', senior).send({})).status).toBe(200);
    await waitFor(
      'the restore waiting inside its transaction',
      async () =>
        (await erp("SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'erp-ops-restore-%' AND wait_event_type = 'Lock'")).length >
        0,
      60_000,
      100,
    );
    expect(await healthStatus('erp-backend')).not.toBe('healthy');

    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    child = undefined;
    await blocker.query('ROLLBACK');
    await blocker.end();
    blocker = undefined;

    restarted = await startTestApp({
      inventoryFile: 'stack/ops.stack.yaml',
      inventoryPatch: (doc) => (doc.backups.directory = dir),
      env: { OPS_DATABASE_URL: dbUrl(database), OPS_REDIS_PREFIX: redisPrefix },
    });
    const token = `Bearer ${(await request(restarted.url).post('/api/v1/auth/login').send({ username: 'kdba', password: PASSWORD })).body.accessToken}`;
    // The sweep marks it interrupted, then runs the procedure's clean-up and notes it.
    const run = await waitFor(
      'the run marked interrupted and recovered',
      async () => {
        const body = (await request(restarted!.url).get(`/api/v1/runs/${runId}`).set('Authorization', token)).body;
        return body.status === 'interrupted' && /started again/.test(body.error ?? '') ? body : null;
      },
      40_000,
      500,
    );
    expect(run.error).toMatch(/restore-database.*erp-backend was started again/);
    expect(run.steps.some((s: any) => s.status === 'running')).toBe(false);
    await waitFor('the backend healthy again', async () => (await healthStatus('erp-backend')) === 'healthy', 60_000);
    await waitFor(
      'the restore session gone',
      async () => (await erp("SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'erp-ops-restore-%'")).length === 0,
      20_000,
      200,
    );
    expect(await erp("SELECT md5(string_agg(p::text, ',' ORDER BY id)) AS h FROM public.products p")).toEqual(before);
    // The locks are free: a new backup (erp:postgres) is accepted.
    const next = await request(restarted.url).post('/api/v1/backups?wait=true').set('Authorization', token).send({});
    expect(next.body.run.status).toBe('succeeded');
  });
});
