/**
 * disk.cleanup (runbook Issue 3) on the stand-in stack: backups beyond the last N deleted but
 * never the newest verified one, VACUUM ANALYZE of the ERP database, every service's log
 * lines archived, a leftover stopped container and a dangling image pruned while a stopped
 * inventory service (erp-grafana) survives, and the free-space verdict (escalated when the
 * threshold is not met). The backup and archive directories are temporary.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { archiveName } from '../../src/modules/remediations/procedures/disk-cleanup';
import { withClient } from '../helpers/db';
import { startTestApp, TestApp } from '../helpers/test-app';
import { PORTS, restoreService, SERVICES, stackSql, waitFor } from '../stack/stack-helpers';

const STACK_INVENTORY = 'stack/ops.stack.yaml';
const ERP_DB = 'erp_quty_karunia_prod';
const BASE_IMAGE = 'erp-stack-base:1';
const FILE_BYTES = 256 * 1024;

/** The Docker Engine API with a JSON body (the stack helper's docker() sends none). */
function engine(method: string, apiPath: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath: '/var/run/docker.sock',
        path: `/v1.41${apiPath}`,
        method,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: any = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** What the procedure may prune, as the engine lists it: stopped containers that are not inventory services. */
async function stoppedNonServices(): Promise<string[]> {
  const all = (await engine('GET', '/containers/json?all=true')).body as any[];
  const services = new Set(SERVICES.map((s) => `erp-${s}`));
  return all
    .filter((c) => ['created', 'exited', 'dead'].includes(c.State))
    .map((c) => String(c.Names[0]).replace(/^\//, ''))
    .filter((n) => !services.has(n))
    .sort();
}

describe('disk.cleanup on the stand-in stack', () => {
  let t: TestApp;
  let dir: string;
  let archive: string;
  const tokens = new Map<string, string>();
  const as = (who: string) => `Bearer ${tokens.get(who)}`;
  const fixtures: { id: string; fileName: string; verified: boolean }[] = [];
  const suffix = randomBytes(4).toString('hex');
  const leftover = `erp-test-leftover-${suffix}`;
  const imageRepo = `erp-test-dangling-${suffix}`;
  let danglingId = '';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'erp-cleanup-backups-'));
    archive = mkdtempSync(path.join(tmpdir(), 'erp-cleanup-archives-'));
    t = await startTestApp({
      inventoryFile: STACK_INVENTORY,
      inventoryPatch: (doc) => {
        doc.backups.directory = dir;
        doc.cleanup = { archiveDirectory: archive, logLines: 200 };
        // The stand-in machine has far less than the runbook's 100 GB free.
        doc.thresholds.freeDiskGbMin = 1;
      },
    });
    for (const [who, role] of [
      ['viewer', Role.Viewer],
      ['operator', Role.Operator],
      ['support', Role.Support],
      ['senior', Role.SeniorDev],
      ['dba', Role.Dba],
    ] as const) {
      tokens.set(who, await t.tokenFor(role));
    }
    // Six catalogued backups, newest first; only the fifth newest is verified.
    for (let i = 0; i < 6; i++) {
      const id = randomUUID();
      const fileName = `erp_backup_2026-01-${String(20 - i).padStart(2, '0')}_0200.sql.gz`;
      writeFileSync(path.join(dir, fileName), randomBytes(FILE_BYTES));
      const verified = i === 4;
      await withClient(t.database, (c) =>
        c.query(
          `INSERT INTO backups (id, file_name, kind, size_bytes, sha256, database_name, database_size_bytes, server_version, dump_via, exit_status, duration_ms, uncompressed_bytes, row_counts, created_at, verify_status, verified_at)
           VALUES ($1, $2, 'scheduled', $3, $4, $5, 1000000, '15.0', 'docker-exec', 0, 1000, 2000000, '{}', now() - make_interval(hours => $6), $7, $8)`,
          [id, fileName, FILE_BYTES, 'a'.repeat(64), ERP_DB, i + 1, verified ? 'verified' : 'unverified', verified ? new Date() : null],
        ),
      );
      fixtures.push({ id, fileName, verified });
    }
    writeFileSync(path.join(dir, 'erp_backup_2020-01-01_0200.sql.gz'), 'not catalogued');
  });

  after(async () => {
    await engine('DELETE', `/containers/${leftover}?force=true`).catch(() => undefined);
    await engine('DELETE', `/images/${imageRepo}:latest?force=true`).catch(() => undefined);
    if (danglingId) await engine('DELETE', `/images/${danglingId}?force=true`).catch(() => undefined);
    await engine('POST', '/containers/erp-grafana/start').catch(() => undefined);
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(archive, { recursive: true, force: true });
  });

  const request = (body: object, who: string, app = t) =>
    app.http().post('/api/v1/procedures/disk.cleanup/runs').set('Authorization', as(who)).send(body);
  const until = async (id: string, app = t, ms = 300_000) =>
    waitFor(
      `run ${id} to end`,
      async () => {
        const run = (await app.http().get(`/api/v1/runs/${id}`).set('Authorization', as('viewer'))).body;
        return ['succeeded', 'failed', 'escalated', 'cancelled'].includes(run.status) ? run : null;
      },
      ms,
      250,
    );
  const step = (run: any, id: string) => run.steps.find((s: any) => s.stepId === id);
  const runCount = async () =>
    (await withClient(t.database, (c) => c.query('SELECT count(*)::int AS n FROM procedure_runs'))).rows[0].n as number;
  const audited = async () =>
    (
      await withClient(t.database, (c) =>
        c.query(
          "SELECT actor, outcome, error_code FROM audit_entries WHERE action = 'procedure.request' AND target = 'procedure:disk.cleanup' ORDER BY id",
        ),
      )
    ).rows;
  const lastVacuum = async () =>
    (await stackSql<{ v: Date | null }>(ERP_DB, "SELECT last_vacuum AS v FROM pg_stat_user_tables WHERE relname = 'products'"))[0].v;
  const state = async (name: string) => (await engine('GET', `/containers/${name}/json`)).body?.State?.Status ?? 'gone';

  it('is P2: operator and support get 403 with whom to escalate to; bad parameters get 400 naming the field; nothing changes', async () => {
    const files = readdirSync(dir).sort();
    const runs = await runCount();
    for (const who of ['operator', 'support']) {
      const res = await request({ parameters: {} }, who);
      expect(res.status).toBe(403);
      expect(res.body.message).toMatch(/P2 database procedure/);
      expect(res.body.details.escalateTo).toEqual(['Support', 'Senior Dev']);
      expect(res.body.details.rolesWithRight).toEqual(expect.arrayContaining(['senior_dev', 'dba']));
    }
    const bad: [object, RegExp][] = [
      [{ keepLast: 0 }, /parameters\.keepLast.*whole number of backups/],
      [{ keepLast: '3' }, /parameters\.keepLast/],
      [{ logLines: 20000 }, /parameters\.logLines.*from 1 to 10000/],
      [{ directory: '/' }, /unknown parameter\(s\) directory/],
    ];
    for (const [parameters, message] of bad) {
      const res = await request({ parameters }, 'senior');
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toMatch(message);
    }
    expect(readdirSync(dir).sort()).toEqual(files);
    expect(readdirSync(archive)).toEqual([]);
    expect(await runCount()).toBe(runs);
    // The refusals are audited (the runner's level check: failure/FORBIDDEN); the 400s write nothing.
    const audit = await audited();
    expect(audit.map((a: any) => [a.outcome, a.error_code])).toEqual([
      ['denied', 'FORBIDDEN'],
      ['denied', 'FORBIDDEN'],
    ]);
  });

  it('a dry run lists exactly what it would delete, vacuum, archive and prune, and changes nothing', async () => {
    // A leftover stopped container, a dangling image, and a stopped inventory service.
    const created = await engine('POST', `/containers/create?name=${leftover}`, {
      Image: BASE_IMAGE,
      Cmd: ['/bin/true'],
      HostConfig: { NetworkMode: 'host' },
    });
    expect(created.status).toBe(201);
    expect((await engine('POST', `/containers/${leftover}/start`)).status).toBe(204);
    await waitFor('the leftover exited', async () => (await state(leftover)) === 'exited', 20_000, 200);
    const first = await engine('POST', `/commit?container=${leftover}&repo=${imageRepo}&tag=latest`);
    expect(first.status).toBe(201);
    danglingId = first.body.Id;
    // Committing again under the same tag leaves the first image untagged: dangling.
    expect((await engine('POST', `/commit?container=${leftover}&repo=${imageRepo}&tag=latest&comment=again`)).status).toBe(201);
    expect((await engine('GET', `/images/${danglingId}/json`)).body.RepoTags).toEqual([]);
    expect((await engine('POST', '/containers/erp-grafana/stop?t=5')).status).toBeLessThan(400);
    expect(await state('erp-grafana')).toBe('exited');

    const files = readdirSync(dir).sort();
    const vacuumedAt = await lastVacuum();
    const res = await request({ parameters: {}, dryRun: true }, 'dba');
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('succeeded');
    expect(res.body.steps.map((s: any) => [s.stepId, s.status])).toEqual([
      ['usage', 'planned'],
      ['backups', 'planned'],
      ['vacuum', 'planned'],
      ['archive-logs', 'planned'],
      ['prune', 'planned'],
      ['verify', 'planned'],
    ]);
    const usage = step(res.body, 'usage').plan;
    expect(usage.paths.map((p: any) => p.path)).toEqual(['/var/lib/docker', dir, archive]);
    for (const p of usage.paths)
      expect(p).toMatchObject({
        sizeBytes: expect.any(Number),
        usedBytes: expect.any(Number),
        freeBytes: expect.any(Number),
        usedPercent: expect.any(Number),
      });
    const backups = step(res.body, 'backups').plan;
    // keepLast 3 (the inventory's keepLastOnCleanup): the 4th and 6th go; the 5th is the newest verified.
    expect(backups.delete.map((d: any) => d.fileName)).toEqual([fixtures[3].fileName, fixtures[5].fileName]);
    expect(backups.delete.map((d: any) => d.sizeBytes)).toEqual([FILE_BYTES, FILE_BYTES]);
    expect(backups.keep.find((k: any) => k.id === fixtures[4].id).reason).toMatch(/newest verified/);
    expect(backups.newestVerified.id).toBe(fixtures[4].id);
    expect(backups.unknownFiles.map((f: any) => f.fileName)).toEqual(['erp_backup_2020-01-01_0200.sql.gz']);
    expect(backups.bytesToFree).toBe(2 * FILE_BYTES);
    expect(step(res.body, 'vacuum').plan).toMatchObject({
      database: ERP_DB,
      statement: 'VACUUM (ANALYZE)',
      databaseSizeBytes: expect.any(Number),
    });
    const archivePlan = step(res.body, 'archive-logs').plan;
    expect(archivePlan.directory).toBe(archive);
    expect(archivePlan.fileName).toMatch(/^logs_backup_\d{8}_\d{6}\.txt$/);
    expect(archivePlan.linesPerService).toBe(200);
    expect(archivePlan.services.map((s: any) => s.container).sort()).toEqual(SERVICES.map((s) => `erp-${s}`).sort());
    const prune = step(res.body, 'prune').plan;
    expect(prune.containers.map((c: any) => c.name).sort()).toEqual(await stoppedNonServices());
    expect(prune.containers.map((c: any) => c.name)).toContain(leftover);
    expect(prune.containers.map((c: any) => c.name)).not.toContain('erp-grafana');
    expect(prune.neverRemoved.find((c: any) => c.name === 'erp-grafana').reason).toMatch(/inventory service/);
    expect(prune.images.map((i: any) => i.id)).toContain(danglingId);
    expect(prune.images.every((i: any) => typeof i.sizeBytes === 'number')).toBe(true);
    expect(step(res.body, 'verify').plan.freeDiskGbMin).toBe(1);
    // Nothing changed.
    expect(readdirSync(dir).sort()).toEqual(files);
    expect(readdirSync(archive)).toEqual([]);
    expect(await state(leftover)).toBe('exited');
    expect((await engine('GET', `/images/${danglingId}/json`)).status).toBe(200);
    expect(await lastVacuum()).toEqual(vacuumedAt);
  });

  it('a real run frees what the plan listed: backups beyond the last 3 (never the newest verified), VACUUM, an archive of every service, the leftover and the dangling image; the stopped erp-grafana stays', async () => {
    try {
      expect(await state('erp-grafana')).toBe('exited');
      const startedAt = new Date();
      const res = await request({ parameters: { logLines: 50 } }, 'senior');
      expect(res.status).toBe(201);
      const run = await until(res.body.id);
      expect(run.error).toBeNull();
      expect(run.status).toBe('succeeded');
      expect(run.steps.map((s: any) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);

      // Backups: the 4th and 6th newest gone (files and catalog), the rest and the unknown file kept.
      const left = readdirSync(dir).sort();
      expect(left).toEqual([...[0, 1, 2, 4].map((i) => fixtures[i].fileName), 'erp_backup_2020-01-01_0200.sql.gz'].sort());
      const out = step(run, 'backups').output;
      expect(out.deleted.map((d: any) => d.fileName)).toEqual([fixtures[3].fileName, fixtures[5].fileName]);
      expect(out.reclaimedBytes).toBe(2 * FILE_BYTES);
      const catalog = (
        await withClient(t.database, (c) =>
          c.query('SELECT id, deleted_by FROM backups WHERE deleted_at IS NOT NULL ORDER BY created_at DESC'),
        )
      ).rows;
      expect(catalog.map((r: any) => r.id)).toEqual([fixtures[3].id, fixtures[5].id]);
      expect(catalog[0].deleted_by).toMatch(/^seniordev/);

      // VACUUM ANALYZE ran (autocommit) on the ERP database.
      const vacuum = step(run, 'vacuum').output;
      expect(vacuum).toMatchObject({
        database: ERP_DB,
        sizeBeforeBytes: expect.any(Number),
        sizeAfterBytes: expect.any(Number),
        reclaimedBytes: expect.any(Number),
      });
      const vacuumedAt = await lastVacuum();
      expect(vacuumedAt).not.toBeNull();
      expect(new Date(vacuumedAt!).getTime()).toBeGreaterThanOrEqual(startedAt.getTime() - 1000);

      // The archive: one new file, every service's lines prefixed with its name, no temporary file left.
      const archived = step(run, 'archive-logs').output;
      expect(readdirSync(archive)).toEqual([archived.fileName]);
      expect(archived.fileName).toMatch(/^logs_backup_\d{8}_\d{6}\.txt$/);
      const text = readFileSync(path.join(archive, archived.fileName), 'utf8');
      expect(Buffer.byteLength(text)).toBe(archived.bytesWritten);
      const lines = text.split('\n').filter(Boolean);
      for (const service of SERVICES) {
        const own = lines.filter((l) => l.startsWith(`${service} | `));
        expect({ service, some: own.length > 0, atMost50: own.length <= 50 }).toEqual({ service, some: true, atMost50: true });
        expect(archived.services.find((s: any) => s.service === service)).toMatchObject({ lines: own.length });
      }
      expect(lines.every((l) => /^[a-z]+ \| \d{4}-\d{2}-\d{2}T/.test(l))).toBe(true);

      // Pruned: the leftover container and the dangling image; erp-grafana (stopped service) kept.
      expect(await state(leftover)).toBe('gone');
      expect((await engine('GET', `/images/${danglingId}/json`)).status).toBe(404);
      expect((await engine('GET', `/images/${imageRepo}:latest/json`)).status).toBe(200);
      expect(await state('erp-grafana')).toBe('exited');
      const prune = step(run, 'prune').output;
      expect(prune.removedContainers.map((c: any) => c.name)).toContain(leftover);
      expect(prune.removedImages.map((i: any) => i.id)).toContain(danglingId);
      expect(prune.neverRemoved.map((c: any) => c.name)).toContain('erp-grafana');
      expect(await stoppedNonServices()).toEqual([]);

      // Verify: before/after per file system, bytes per step, the threshold met.
      const verify = step(run, 'verify').output;
      expect(verify.meetsThreshold).toBe(true);
      expect(verify.freeDiskGbMin).toBe(1);
      expect(verify.reclaimedByStep).toEqual({
        backups: 2 * FILE_BYTES,
        vacuum: vacuum.reclaimedBytes,
        'archive-logs': 0,
        prune: prune.reclaimedBytes,
      });
      for (const f of verify.fileSystems)
        expect(f).toMatchObject({ freeBeforeBytes: expect.any(Number), freeAfterBytes: expect.any(Number), meetsThreshold: true });

      // The run record and its audit entry.
      expect(run).toMatchObject({ procedureId: 'disk.cleanup', severity: 'P2', dryRun: false, parameters: { logLines: 50 } });
      expect(run.requestedBy).toMatch(/^seniordev/);
      const audit = await audited();
      expect(audit.filter((a: any) => a.outcome === 'success' && /^seniordev/.test(a.actor)).length).toBe(1);
    } finally {
      await engine('POST', '/containers/erp-grafana/start');
      await restoreService('grafana', PORTS.grafana, '/api/health');
    }
  });

  it("still short of the free-space threshold: escalated (P2) with DevOps' remedy; a second archive never overwrites an existing one", async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'erp-cleanup-short-'));
    const starved = await startTestApp({
      inventoryFile: STACK_INVENTORY,
      inventoryPatch: (doc) => {
        doc.backups.directory = other;
        doc.cleanup = { archiveDirectory: archive, logLines: 10 };
        doc.thresholds.freeDiskGbMin = 1_000_000;
        // P2, not P1: the disk is not at the fail band of diskPercent (whatever this machine's use).
        doc.thresholds.diskPercent = { warn: 99, fail: 100 };
      },
    });
    try {
      tokens.set('dba-starved', await starved.tokenFor(Role.Dba));
      // Every archive name of the next two minutes is taken already: the run must add a suffix.
      const now = Date.now();
      const taken = new Set<string>();
      for (let s = 0; s < 120; s++) taken.add(archiveName(new Date(now + s * 1000), 'Asia/Jakarta'));
      for (const name of taken) writeFileSync(path.join(archive, name), 'taken');
      const res = await starved
        .http()
        .post('/api/v1/procedures/disk.cleanup/runs')
        .set('Authorization', as('dba-starved'))
        .send({ parameters: {} });
      expect(res.status).toBe(201);
      const run = await waitFor(
        'the starved run to end',
        async () => {
          const r = (await starved.http().get(`/api/v1/runs/${res.body.id}`).set('Authorization', as('dba-starved'))).body;
          return ['succeeded', 'failed', 'escalated'].includes(r.status) ? r : null;
        },
        300_000,
        250,
      );
      expect(run.status).toBe('escalated');
      expect(run.error).toMatch(/free space is still below 1000000 GB after the cleanup/);
      expect(run.error).toMatch(/contact DevOps to expand the disk \(LVM\) or move backups to external storage/);
      expect(run.error).toMatch(/escalate to Support, Senior Dev \(P2, 15 min\)/);
      const verify = step(run, 'verify');
      expect(verify.status).toBe('failed');
      expect(verify.output).toMatchObject({ meetsThreshold: false, level: 'P2', escalateTo: ['Support', 'Senior Dev'] });
      expect(verify.output.fileSystems[0].meetsThreshold).toBe(false);
      // The archive went to a suffixed name; every pre-existing file is unchanged.
      const archived = step(run, 'archive-logs').output.fileName as string;
      expect(archived).toMatch(/^logs_backup_\d{8}_\d{6}_2\.txt$/);
      expect(taken.has(archived.replace('_2.txt', '.txt'))).toBe(true);
      for (const name of taken) expect(readFileSync(path.join(archive, name), 'utf8')).toBe('taken');
      expect(readdirSync(archive).filter((f) => f.startsWith('.'))).toEqual([]);
      expect(existsSync(path.join(archive, archived))).toBe(true);
    } finally {
      await starved.close();
      rmSync(other, { recursive: true, force: true });
    }
  });
});
