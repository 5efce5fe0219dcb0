/**
 * Backups on the stand-in stack's real PostgreSQL container: create (docker exec and TCP),
 * verify with a restore drill, the runbook's own zcat | psql, corruption, retention, delete,
 * restore with approval (round trip by table checksums), a postgres killed during a dump,
 * and bad input that changes nothing.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Client } from 'pg';
import { BackupService } from '../../src/modules/backups/backup.service';
import { Role } from '../../src/common/rights';
import { withClient } from '../helpers/db';
import { startTestApp, TestApp } from '../helpers/test-app';
import { docker, healthStatus, REPO_ROOT, stackSql, waitFor } from '../stack/stack-helpers';

const STACK_INVENTORY = 'stack/ops.stack.yaml';
const ERP_DB = 'erp_quty_karunia_prod';
const SERVER = 'postgres://postgres:erp-stack-dev@127.0.0.1:15432';

const sql = stackSql;

/** md5 of every table's rows (ordered by their text form): identical contents ⇔ identical map. */
async function checksums(database: string): Promise<Record<string, string>> {
  const tables = await sql<{ t: string }>(
    database,
    "SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
  );
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const [row] = await sql<{ h: string; n: string }>(
      database,
      `SELECT md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS h, count(*) AS n FROM ${t} x`,
    );
    out[t] = `${row.n}:${row.h}`;
  }
  return out;
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('backups on the stand-in stack', () => {
  let t: TestApp;
  let dir: string;
  let original: Record<string, string>;
  const tokens = new Map<string, string>();
  const as = (who: string) => `Bearer ${tokens.get(who)}`;
  let first: any;

  before(async () => {
    execFileSync('node', [path.join(REPO_ROOT, 'scripts/stack/seed.js'), '--scale', 'small', '--seed', '11', '--anchor', '2026-01-19'], {
      encoding: 'utf8',
    });
    dir = mkdtempSync(path.join(tmpdir(), 'erp-backups-'));
    t = await startTestApp({ inventoryFile: STACK_INVENTORY, inventoryPatch: (doc) => (doc.backups.directory = dir) });
    for (const [who, role] of [
      ['viewer', Role.Viewer],
      ['operator', Role.Operator],
      ['dba', Role.Dba],
      ['dba2', Role.Dba],
      ['senior', Role.SeniorDev],
      ['admin', Role.Admin],
    ] as const) {
      tokens.set(who, await t.tokenFor(role));
    }
    original = await checksums(ERP_DB);
  });
  after(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (url: string, who = 'viewer') => t.http().get(url).set('Authorization', as(who));
  const post = (url: string, body: object = {}, who = 'operator') => t.http().post(url).set('Authorization', as(who)).send(body);
  const runOf = async (id: string) => (await get(`/api/v1/runs/${id}`)).body;
  const until = async (id: string, statuses: string[], ms = 120_000) =>
    waitFor(
      `run ${id} to be ${statuses.join('/')}`,
      async () => {
        const run = await runOf(id);
        return statuses.includes(run.status) ? run : null;
      },
      ms,
      200,
    );

  it('creates a backup: streamed, named by the inventory, checksummed and catalogued (?wait=true)', async () => {
    const res = await post('/api/v1/backups?wait=true');
    expect(res.status).toBe(200);
    expect(res.body.run.status).toBe('succeeded');
    first = res.body.backup;
    expect(first.fileName).toMatch(/^erp_backup_\d{4}-\d{2}-\d{2}_\d{2}00\.sql\.gz$/);
    expect(first.kind).toBe('manual');
    expect(first.verifyStatus).toBe('unverified');
    const file = path.join(dir, first.fileName);
    expect(first.sha256).toBe(sha256(file));
    expect(first.sizeBytes).toBe(readFileSync(file).length);
    expect(first.databaseName).toBe(ERP_DB);
    expect(first.serverVersion).toMatch(/^15\./);
    expect(first.dumpVia).toBe('docker-exec');
    expect(first.rowCounts['public.products']).toBe(500);
    expect(first.rowCounts['public.stock_moves']).toBe(20000);
    expect(readdirSync(dir)).toEqual([first.fileName]);
    // The runbook restores it with zcat | psql (into a new database here).
    await sql('postgres', 'DROP DATABASE IF EXISTS runbook_check');
    await sql('postgres', 'CREATE DATABASE runbook_check');
    try {
      execFileSync('bash', ['-o', 'pipefail', '-c', `zcat "${file}" | psql -X -q -v ON_ERROR_STOP=1 "${SERVER}/runbook_check" >/dev/null`]);
      expect(await checksums('runbook_check')).toEqual(original);
    } finally {
      await sql('postgres', 'DROP DATABASE IF EXISTS runbook_check WITH (FORCE)');
    }
    const metrics = await t.scrape();
    expect(metrics.text).toMatch(new RegExp(`backup_size_bytes ${first.sizeBytes}`));
    expect(metrics.text).toMatch(/backup_last_successful_timestamp \d+/);
  });

  it('never overwrites: a second backup in the same hour gets a suffix; over TCP as well', async () => {
    // Its own database and queue: a replica sharing the queue could take the job with its own inventory.
    const tcp = await startTestApp({
      inventoryFile: STACK_INVENTORY,
      inventoryPatch: (doc) => ((doc.backups.directory = dir), (doc.backups.dumpVia = 'tcp')),
    });
    try {
      const res = await tcp
        .http()
        .post('/api/v1/backups?wait=true')
        .set('Authorization', `Bearer ${await tcp.tokenFor(Role.Operator)}`)
        .send({});
      expect(res.body.run.status).toBe('succeeded');
      expect(res.body.backup.fileName).toBe(first.fileName.replace('.sql.gz', '_2.sql.gz'));
      expect(res.body.backup.dumpVia).toBe('tcp');
      expect(res.body.backup.rowCounts).toEqual(first.rowCounts);
      expect(readFileSync(path.join(dir, first.fileName)).length).toBe(first.sizeBytes);
    } finally {
      await tcp.close();
    }
  });

  it('verifies with a restore drill into a scratch database and records it', async () => {
    const res = await post(`/api/v1/backups/${first.id}/verify?wait=true`);
    expect(res.body.run.status).toBe('succeeded');
    expect(res.body.backup.verifyStatus).toBe('verified');
    expect(res.body.backup.verifiedAt).toBeTruthy();
    expect(res.body.backup.drillDurationMs).toBeGreaterThan(0);
    const scratch = `erp_drill_${res.body.run.id.replace(/-/g, '').slice(0, 12)}`;
    expect(await sql('postgres', `SELECT datname FROM pg_database WHERE datname = '${scratch}'`)).toEqual([]);
    expect((await t.scrape()).text).toMatch(/backup_last_verified_timestamp \d+/);
  });

  it('restores into an empty database with identical table contents', async () => {
    const service = t.app.get(BackupService);
    const entry = await service.entry(first.id);
    await sql('postgres', 'DROP DATABASE IF EXISTS restore_empty_check');
    await sql('postgres', 'CREATE DATABASE restore_empty_check');
    try {
      await service.restoreFile(
        entry,
        'restore_empty_check',
        { runId: randomUUID(), signal: new AbortController().signal, progress: () => undefined },
        { phase: 'test' },
      );
      expect(await checksums('restore_empty_check')).toEqual(original);
    } finally {
      await sql('postgres', 'DROP DATABASE IF EXISTS restore_empty_check WITH (FORCE)');
    }
  });
  const catalogCount = async () =>
    (await withClient(t.database, (c) => c.query('SELECT count(*)::int AS n FROM backups'))).rows[0].n as number;
  const runCount = async () =>
    (await withClient(t.database, (c) => c.query('SELECT count(*)::int AS n FROM procedure_runs'))).rows[0].n as number;
  const auditFor = async (action: string) =>
    (
      await withClient(t.database, (c) =>
        c.query('SELECT actor, outcome, error_code, target FROM audit_entries WHERE action = $1 ORDER BY id', [action]),
      )
    ).rows;

  let corrupted: any;
  it('a corrupted file (one flipped byte) fails verify and is not restored without force', async () => {
    const made = await post('/api/v1/backups?wait=true');
    corrupted = made.body.backup;
    const file = path.join(dir, corrupted.fileName);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(file, bytes);
    const res = await post(`/api/v1/backups/${corrupted.id}/verify?wait=true`);
    expect(res.body.run.status).toBe('failed');
    expect(res.body.backup.verifyStatus).toBe('failed');
    expect(res.body.backup.verifyError).toMatch(/SHA-256/);
    expect(
      await sql(
        'postgres',
        `SELECT datname FROM pg_database WHERE datname = 'erp_drill_${res.body.run.id.replace(/-/g, '').slice(0, 12)}'`,
      ),
    ).toEqual([]);
    const before = await runCount();
    const refused = await post(`/api/v1/backups/${corrupted.id}/restore`, { confirm: ERP_DB }, 'dba');
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/only a verified backup is restored/);
    const notAdmin = await post(`/api/v1/backups/${corrupted.id}/restore`, { confirm: ERP_DB, force: true }, 'dba');
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.body.message).toMatch(/admins only/);
    expect(await runCount()).toBe(before);
    // Through the generic procedure route the run's first step refuses it: nothing touched.
    const direct = await post('/api/v1/procedures/backup.restore/runs', { parameters: { backupId: corrupted.id }, confirm: ERP_DB }, 'dba');
    expect(direct.status).toBe(201);
    await post(`/api/v1/runs/${direct.body.id}/approve`, {}, 'senior');
    const ended = await until(direct.body.id, ['failed', 'succeeded']);
    expect(ended.status).toBe('failed');
    expect(ended.steps.map((s: any) => s.status)).toEqual(['failed', 'skipped', 'skipped', 'skipped', 'skipped', 'skipped']);
    expect(ended.error).toMatch(/check-backup: .*failed/);
    expect(await healthStatus('erp-backend')).toBe('healthy');
    expect(await checksums(ERP_DB)).toEqual(original);
    // An admin may force it (a dry run here: the plan shows what would happen).
    const forced = await post(`/api/v1/backups/${corrupted.id}/restore`, { confirm: ERP_DB, force: true, dryRun: true }, 'admin');
    expect(forced.status).toBe(200);
    expect(forced.body.run.steps[0].plan.force).toBe(true);
  });

  it('restores into the existing database: dba requests, senior_dev approves, a second restore gets 409; identical contents after', async () => {
    await sql(ERP_DB, "UPDATE public.products SET name = name || ' x' WHERE id > 400; DELETE FROM public.audit_logs WHERE id > 19000");
    expect(await checksums(ERP_DB)).not.toEqual(original);
    const before = await runCount();
    // An operator may not request it: 403 naming whom to escalate to, audited.
    const operator = await post(`/api/v1/backups/${first.id}/restore`, { confirm: ERP_DB }, 'operator');
    expect(operator.status).toBe(403);
    expect(operator.body.details.escalateTo.length).toBeGreaterThan(0);
    // Missing or wrong confirmation: 400 before anything happens.
    const unconfirmed = await post(`/api/v1/backups/${first.id}/restore`, {}, 'dba');
    expect(unconfirmed.status).toBe(400);
    expect(JSON.stringify(unconfirmed.body)).toMatch(/confirm/);
    expect((await post(`/api/v1/backups/${first.id}/restore`, { confirm: 'erp' }, 'dba')).status).toBe(400);
    expect(await runCount()).toBe(before);
    const requested = await post(`/api/v1/backups/${first.id}/restore`, { confirm: ERP_DB }, 'dba');
    expect(requested.status).toBe(202);
    expect(requested.body.run.status).toBe('awaiting_approval');
    const runId = requested.body.run.id;
    const self = await post(`/api/v1/runs/${runId}/approve`, {}, 'dba');
    expect(self.status).toBe(403);
    const sameRole = await post(`/api/v1/runs/${runId}/approve`, {}, 'dba2');
    expect(sameRole.status).toBe(403);
    expect(sameRole.body.message).toMatch(/senior_dev/);
    const approved = await post(`/api/v1/runs/${runId}/approve`, {}, 'senior');
    expect(approved.status).toBe(200);
    await until(runId, ['running', 'succeeded', 'failed'], 30_000);
    const second = await post(`/api/v1/backups/${first.id}/restore`, { confirm: ERP_DB }, 'dba2');
    const secondDirect = await post(
      '/api/v1/procedures/backup.restore/runs',
      { parameters: { backupId: first.id }, confirm: ERP_DB },
      'dba2',
    );
    const ended = await until(runId, ['succeeded', 'failed'], 180_000);
    expect(ended.error).toBeNull();
    expect(ended.status).toBe('succeeded');
    expect(second.status).toBe(409);
    expect(second.body.message).toMatch(new RegExp(`held by run ${runId}`));
    expect(secondDirect.status).toBe(409);
    expect(ended.steps.map((s: any) => s.stepId)).toEqual([
      'check-backup',
      'safety-backup',
      'stop-backend',
      'restore-database',
      'analyze',
      'start-backend',
    ]);
    expect(await checksums(ERP_DB)).toEqual(original);
    expect(await healthStatus('erp-backend')).toBe('healthy');
    const safety = ended.steps[1].output;
    const list = await get('/api/v1/backups');
    expect(list.body.items.find((b: any) => b.id === safety.backupId).kind).toBe('safety');
    // The refusals (the operator's 403, the second restore's 409) are audit entries; bad
    // input (400) writes nothing, the audit trail included.
    const audit = (await auditFor('backup.restore')).filter((a: any) => String(a.target).includes(first.id));
    expect(audit.filter((a: any) => a.outcome === 'denied' && a.error_code === 'FORBIDDEN').length).toBe(1);
    expect(audit.filter((a: any) => a.outcome === 'failure' && a.error_code === 'CONFLICT').length).toBe(1);
    expect(audit.filter((a: any) => a.outcome === 'success').length).toBe(1);
    expect((await auditFor('procedure.approve')).filter((a: any) => a.outcome === 'denied').length).toBeGreaterThanOrEqual(2);
  });

  it("a postgres killed during a dump: failed run with the tool's error, no backup-named file, catalog unchanged; the next backup succeeds", async () => {
    const filesBefore = readdirSync(dir).sort();
    const catalogBefore = await catalogCount();
    // Hold a lock pg_dump must wait for, so that the kill lands during the dump.
    const blocker = new Client({ connectionString: `${SERVER}/${ERP_DB}` });
    blocker.on('error', () => undefined);
    await blocker.connect();
    await blocker.query('BEGIN; LOCK TABLE public.products IN ACCESS EXCLUSIVE MODE');
    const res = await post('/api/v1/backups');
    expect(res.status).toBe(202);
    const runId = res.body.run.id;
    await waitFor(
      'pg_dump waiting for its lock',
      async () => {
        const rows = await sql(
          ERP_DB,
          "SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'erp-ops-backup-%' AND wait_event_type = 'Lock'",
        ).catch(() => []);
        return rows.length > 0;
      },
      30_000,
      100,
    );
    await docker('POST', '/containers/erp-postgres/kill');
    const ended = await until(runId, ['failed', 'succeeded'], 60_000);
    await blocker.end().catch(() => undefined);
    expect(ended.status).toBe('failed');
    expect(ended.error).toMatch(/pg_dump/);
    expect(readdirSync(dir).sort()).toEqual(filesBefore);
    expect(await catalogCount()).toBe(catalogBefore);
    await docker('POST', '/containers/erp-postgres/start');
    await waitFor('erp-postgres healthy', async () => (await healthStatus('erp-postgres')) === 'healthy', 90_000);
    const next = await post('/api/v1/backups?wait=true');
    expect(next.body.run.status).toBe('succeeded');
    expect(await catalogCount()).toBe(catalogBefore + 1);
  });

  const sessions = (prefix: string) =>
    sql(ERP_DB, `SELECT pid, wait_event_type FROM pg_stat_activity WHERE application_name LIKE '${prefix}%'`);
  async function holdLock(statement: string): Promise<Client> {
    const blocker = new Client({ connectionString: `${SERVER}/${ERP_DB}` });
    blocker.on('error', () => undefined);
    await blocker.connect();
    await blocker.query(`BEGIN; ${statement}`);
    return blocker;
  }

  it('cancel aborts a running dump cleanly: cancelled run, no file, no session left', async () => {
    const filesBefore = readdirSync(dir).sort();
    const catalogBefore = await catalogCount();
    const blocker = await holdLock('LOCK TABLE public.products IN ACCESS EXCLUSIVE MODE');
    try {
      const res = await post('/api/v1/backups');
      const runId = res.body.run.id;
      await waitFor(
        'pg_dump waiting for its lock',
        async () => (await sessions('erp-ops-backup-')).some((r: any) => r.wait_event_type === 'Lock'),
        30_000,
        100,
      );
      const cancel = await post(`/api/v1/runs/${runId}/cancel`);
      expect(cancel.status).toBe(200);
      const ended = await until(runId, ['cancelled', 'failed', 'succeeded'], 30_000);
      expect(ended.status).toBe('cancelled');
      expect(ended.steps[0].status).toBe('cancelled');
      await waitFor('the dump session gone', async () => (await sessions('erp-ops-backup-')).length === 0, 10_000, 100);
      expect(readdirSync(dir).sort()).toEqual(filesBefore);
      expect(await catalogCount()).toBe(catalogBefore);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end().catch(() => undefined);
    }
  });

  it('cancel during a restore rolls it back and starts the backend again; the database is as it was', async () => {
    await sql(ERP_DB, "UPDATE public.products SET name = name || ' before-cancel' WHERE id <= 10");
    const before = await checksums(ERP_DB);
    const blocker = await holdLock('SELECT count(*) FROM public.products');
    try {
      const requested = await post(`/api/v1/backups/${first.id}/restore`, { confirm: ERP_DB }, 'dba');
      const runId = requested.body.run.id;
      expect((await post(`/api/v1/runs/${runId}/approve`, {}, 'senior')).status).toBe(200);
      await waitFor(
        'the restore waiting for a lock',
        async () => (await sessions('erp-ops-restore-')).some((r: any) => r.wait_event_type === 'Lock'),
        60_000,
        100,
      );
      expect(await healthStatus('erp-backend')).not.toBe('healthy');
      expect((await post(`/api/v1/runs/${runId}/cancel`, {}, 'dba')).status).toBe(200);
      const ended = await until(runId, ['cancelled', 'failed', 'succeeded'], 30_000);
      expect(ended.status).toBe('cancelled');
      expect(ended.steps.find((s: any) => s.stepId === 'restore-database').status).toBe('cancelled');
      await waitFor('the backend healthy again', async () => (await healthStatus('erp-backend')) === 'healthy', 60_000);
      await waitFor('the restore session gone', async () => (await sessions('erp-ops-restore-')).length === 0, 10_000, 100);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end().catch(() => undefined);
    }
    expect(await checksums(ERP_DB)).toEqual(before);
  });

  it('refuses path-like ids, negative retention, unknown parameters and missing confirmation with 400; nothing changes', async () => {
    const files = readdirSync(dir).sort();
    const runs = await runCount();
    const entries = await catalogCount();
    const bad = [
      await get('/api/v1/backups/..%2F..%2Fetc%2Fpasswd'),
      await post('/api/v1/backups/..%2Fx/verify'),
      await post('/api/v1/procedures/backup.verify/runs', { parameters: { backupId: `${dir}/${first.fileName}` } }),
      await post('/api/v1/procedures/backup.delete/runs', { parameters: { backupId: '../erp_backup.sql.gz' } }, 'dba'),
      await post('/api/v1/procedures/backup.retention/runs', { parameters: { retentionDays: -1 } }, 'dba'),
      await post('/api/v1/backups/retention', { retentionDays: -7 }, 'dba'),
      await post('/api/v1/backups/retention', { keepLast: 0, mode: 'disk-pressure' }, 'dba'),
      await post('/api/v1/procedures/backup.create/runs', { parameters: { path: '/tmp/x.sql.gz' } }),
      await post('/api/v1/backups', { directory: '/tmp' }),
      await post('/api/v1/procedures/backup.restore/runs', { parameters: { backupId: first.id } }, 'dba'),
    ];
    for (const res of bad) expect(res.status).toBe(400);
    expect(JSON.stringify(bad[2].body)).toMatch(/parameters\.backupId.*never a path/);
    expect(JSON.stringify(bad[4].body)).toMatch(/parameters\.retentionDays/);
    expect(JSON.stringify(bad[5].body)).toMatch(/retentionDays/);
    expect(JSON.stringify(bad[7].body)).toMatch(/unknown parameter\(s\) path/);
    expect(JSON.stringify(bad[9].body)).toMatch(/confirm/);
    expect(readdirSync(dir).sort()).toEqual(files);
    expect(await runCount()).toBe(runs);
    expect(await catalogCount()).toBe(entries);
  });

  it('retention: the window deletes old backups but never the newest verified; unknown files are listed, never deleted; delete is P2', async () => {
    // first (verified) and corrupted are made 10 days old.
    await withClient(t.database, (c) =>
      c.query("UPDATE backups SET created_at = now() - interval '10 days' WHERE id = ANY($1)", [[first.id, corrupted.id]]),
    );
    writeFileSync(path.join(dir, 'erp_backup_2020-01-01_0200.sql.gz'), 'not ours');
    const listed = await get('/api/v1/backups');
    expect(listed.status).toBe(200);
    const names = listed.body.unknownFiles.map((f: any) => f.fileName);
    expect(names).toContain('erp_backup_2020-01-01_0200.sql.gz');
    expect(names).toContain(first.fileName.replace('.sql.gz', '_2.sql.gz'));
    const created = listed.body.items.map((b: any) => b.createdAt);
    expect([...created].sort().reverse()).toEqual(created);
    expect(listed.body.items[0].ageSeconds).toBeGreaterThanOrEqual(0);
    // An operator may not apply retention (P2).
    expect((await post('/api/v1/backups/retention', {}, 'operator')).status).toBe(403);
    const plan = await post('/api/v1/backups/retention', { mode: 'disk-pressure', keepLast: 1, dryRun: true }, 'dba');
    expect(plan.status).toBe(200);
    expect(plan.body.run.steps[0].plan.keep.map((k: any) => k.id)).toContain(first.id);
    const filesBefore = readdirSync(dir).sort();
    const res = await post('/api/v1/backups/retention?wait=true', {}, 'dba');
    expect(res.status).toBe(200);
    const output = res.body.run.steps[0].output;
    expect(output.deleted).toEqual([corrupted.fileName]);
    expect(output.unknownFiles.map((f: any) => f.fileName)).toContain('erp_backup_2020-01-01_0200.sql.gz');
    expect(readdirSync(dir).sort()).toEqual(filesBefore.filter((f) => f !== corrupted.fileName));
    expect(existsSync(path.join(dir, first.fileName))).toBe(true);
    // The newest verified backup cannot be deleted by hand either.
    const refused = await t.http().delete(`/api/v1/backups/${first.id}`).set('Authorization', as('dba'));
    expect(refused.status).toBe(200);
    expect(refused.body.run.status).toBe('failed');
    expect(refused.body.run.error).toMatch(/newest verified/);
    expect((await t.http().delete(`/api/v1/backups/${first.id}`).set('Authorization', as('operator'))).status).toBe(403);
    const other = listed.body.items.find((b: any) => b.id !== first.id && b.id !== corrupted.id);
    const removed = await t.http().delete(`/api/v1/backups/${other.id}`).set('Authorization', as('dba'));
    expect(removed.body.run.status).toBe('succeeded');
    expect(removed.body.backup.verifyStatus).toBe('deleted');
    expect(existsSync(path.join(dir, other.fileName))).toBe(false);
    // It was the newest backup: the ERP's BackupFailed rule now sees the newest one still there.
    expect(other.id).toBe(listed.body.items[0].id);
    const live = await withClient(t.database, (c) =>
      c.query('SELECT created_at FROM backups WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1'),
    );
    const scraped = /^backup_last_successful_timestamp (\S+)$/m.exec((await t.scrape()).text);
    expect(Number(scraped![1])).toBeCloseTo(live.rows[0].created_at.getTime() / 1000, 2);
    expect(Number(scraped![1])).toBeLessThan(Date.parse(other.createdAt) / 1000);
  });

  it('GraphQL: the catalog and a dry-run backup', async () => {
    const res = await t.gql(
      tokens.get('operator'),
      '{ backupCatalog(limit: 2) { items { id fileName verifyStatus sizeBytes } nextCursor unknownFiles { fileName } } }',
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.backupCatalog.items.length).toBeGreaterThanOrEqual(1);
    expect(res.body.data.backupCatalog.items.length).toBeLessThanOrEqual(2);
    const dry = await t.gql(
      tokens.get('operator'),
      'mutation { createBackup(input: { dryRun: true }) { run { status dryRun steps { plan } } } }',
    );
    expect(dry.body.errors).toBeUndefined();
    expect(dry.body.data.createBackup.run.status).toBe('succeeded');
    expect(dry.body.data.createBackup.run.steps[0].plan.database).toBe(ERP_DB);
    const bad = await t.gql(tokens.get('operator'), 'mutation { verifyBackup(id: "../etc/passwd") { run { id } } }');
    expect(bad.body.errors[0].extensions.code).not.toBe('INTERNAL_SERVER_ERROR');
  });
});
