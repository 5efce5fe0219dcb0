/**
 * logs.elasticsearch-ingest (runbook Issue 4) on the stand-in stack: old erp-* indices are
 * deleted by their explicit names (chosen by the date in the name), recent ones and names
 * without a date are kept, Logstash is restarted, and today's indices must grow; with the
 * Elasticsearch stand-in's noIngest fault on, the run ends escalated.
 *
 * The stand-in keeps 40 days of indices and test/stack/elasticsearch.spec.ts expects the
 * 39-day-old ones: the real runs here use a retention of 41 days, and old indices are made
 * 45 and 50 days back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { deleteBatches, Elasticsearch, MAX_DELETE_PATH } from '../../src/integrations/elasticsearch/elasticsearch';
import { IntegrationError } from '../../src/integrations/integration-error';
import { indexDate, splitByRetention } from '../../src/modules/remediations/procedures/logs-elasticsearch-ingest';
import { withClient } from '../helpers/db';
import { startTestApp, TestApp } from '../helpers/test-app';
import { get, inspect, PORTS, restoreService, waitFor } from '../stack/stack-helpers';

const STACK_INVENTORY = 'stack/ops.stack.yaml';
const ES = PORTS.elasticsearch;
const DAY = 86_400_000;
const day = (d: Date) => d.toISOString().slice(0, 10).replaceAll('-', '.');
const daysAgo = (n: number) => day(new Date(Date.now() - n * DAY));

async function indices(): Promise<{ index: string; docs: number }[]> {
  const rows = (await get(ES, '/_cat/indices/erp-*?format=json&h=index,docs.count&s=index')).json<Record<string, string>[]>();
  return rows.map((r) => ({ index: r.index, docs: Number(r['docs.count']) }));
}
const names = async () => (await indices()).map((i) => i.index);
const exists = async (name: string) => (await get(ES, `/${name}/_count`)).status === 200;
async function createIndex(name: string): Promise<void> {
  const res = await get(ES, `/${name}/_doc`, { method: 'POST', body: { message: 'disk of logs', '@timestamp': new Date().toISOString() } });
  if (res.status !== 201) throw new Error(`creating ${name}: HTTP ${res.status} ${res.body}`);
}
const setFault = async (state: object) => {
  const res = await get(ES, '/__fault', { method: 'POST', body: state });
  if (res.status >= 300) throw new Error(`fault switch: HTTP ${res.status}`);
};

describe('logs.elasticsearch-ingest on the stand-in stack', () => {
  let t: TestApp;
  let dir: string;
  const tokens = new Map<string, string>();
  const as = (who: string) => `Bearer ${tokens.get(who)}`;
  const tag = randomBytes(3).toString('hex');
  const old45 = `erp-backend-${daysAgo(45)}`;
  const old50 = `erp-nginx-${daysAgo(50)}`;
  const recent39 = `erp-backend-${daysAgo(39)}`;
  const noDate = `erp-test-nodate-${tag}`;
  const badDate = 'erp-backend-2021.02.30';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'erp-es-ingest-'));
    t = await startTestApp({ inventoryFile: STACK_INVENTORY, inventoryPatch: (doc) => (doc.backups.directory = dir) });
    for (const [who, role] of [
      ['viewer', Role.Viewer],
      ['operator', Role.Operator],
      ['support', Role.Support],
      ['senior', Role.SeniorDev],
      ['dba', Role.Dba],
    ] as const) {
      tokens.set(who, await t.tokenFor(role));
    }
    await setFault({});
    for (const name of [old45, old50, noDate, badDate]) await createIndex(name);
  });

  after(async () => {
    await setFault({}).catch(() => undefined);
    for (const name of [old45, old50, noDate, badDate]) await get(ES, `/${name}`, { method: 'DELETE' }).catch(() => undefined);
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const request = (body: object, who: string) =>
    t.http().post('/api/v1/procedures/logs.elasticsearch-ingest/runs').set('Authorization', as(who)).send(body);
  const until = async (id: string, ms = 180_000) =>
    waitFor(
      `run ${id} to end`,
      async () => {
        const run = (await t.http().get(`/api/v1/runs/${id}`).set('Authorization', as('viewer'))).body;
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
          "SELECT actor, outcome, error_code FROM audit_entries WHERE action = 'procedure.request' AND target = 'procedure:logs.elasticsearch-ingest' ORDER BY id",
        ),
      )
    ).rows;
  const logstashStartedAt = async () => (await inspect('erp-logstash')).State.StartedAt as string;

  it('reads the date from the index name only: erp-backend-YYYY.MM.dd, never an impossible date or a name without one', () => {
    expect(indexDate('erp-backend-2026.01.19')?.toISOString()).toBe('2026-01-19T00:00:00.000Z');
    expect(indexDate('erp-backend-2021.02.30')).toBeNull();
    expect(indexDate('erp-backend-2026.01.19-000001')).toBeNull();
    expect(indexDate('erp-test-nodate')).toBeNull();
    const now = new Date('2026-03-01T23:59:00Z');
    const split = splitByRetention(
      ['erp-a-2026.01.30', 'erp-a-2026.01.29', 'erp-a-2026.03.01', 'erp-a-x'].map((index) => ({
        index,
        health: 'green',
        status: 'open',
        docsCount: 1,
        storeSizeBytes: 10,
      })),
      now,
      30,
    );
    expect(split.keepFrom).toBe('2026.01.30');
    expect(split.delete.map((d) => d.index)).toEqual(['erp-a-2026.01.29']);
    expect(split.keep).toEqual(['erp-a-2026.01.30', 'erp-a-2026.03.01']);
    expect(split.skipped.map((s) => s.index)).toEqual(['erp-a-x']);
  });

  it('the adapter deletes by explicit names only: wildcards, lists and _all refused before anything is sent; batches keep the URL short; names already gone are reported', async () => {
    const es = new Elasticsearch(`http://127.0.0.1:${ES}`);
    const before = await names();
    for (const bad of ['erp-*', `${noDate},${old45}`, '_all', 'erp-backend-_all', '', '-x', 'Erp-upper']) {
      const error = await es.deleteIndices([noDate, bad], { timeoutMs: 5000 }).then(
        () => null,
        (e: IntegrationError) => e,
      );
      expect({ bad, failure: error?.failure, message: error?.message }).toEqual({
        bad,
        failure: 'refused',
        message: expect.stringMatching(/will not delete .*explicit names only/),
      });
    }
    expect(await names()).toEqual(before);
    const batches = deleteBatches(Array.from({ length: 400 }, (_, i) => `erp-backend-2020.01.${String(i).padStart(4, '0')}`));
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.flat().length).toBe(400);
    for (const b of batches) expect(b.join(',').length + 1).toBeLessThanOrEqual(MAX_DELETE_PATH);
    const scratch = [`erp-test-del-${tag}-a`, `erp-test-del-${tag}-b`];
    for (const name of scratch) await createIndex(name);
    const result = await es.deleteIndices([scratch[0], `erp-test-del-${tag}-gone`, scratch[1]], { timeoutMs: 10_000 });
    expect(result).toEqual({ deleted: scratch, missing: [`erp-test-del-${tag}-gone`], requests: 4 });
    for (const name of scratch) expect(await exists(name)).toBe(false);
  });

  it('is P2: operator and support get 403 with whom to escalate to; bad parameters get 400 naming the field; nothing changes', async () => {
    const before = await names();
    const runs = await runCount();
    for (const who of ['operator', 'support']) {
      const res = await request({ parameters: {} }, who);
      expect(res.status).toBe(403);
      expect(res.body.message).toMatch(/P2 system procedure/);
      expect(res.body.details.escalateTo).toEqual(['Support', 'Senior Dev']);
    }
    const bad: [object, RegExp][] = [
      [{ retentionDays: 0 }, /parameters\.retentionDays.*whole number of days from 1 to 3650/],
      [{ retentionDays: '30' }, /parameters\.retentionDays/],
      [{ verifySeconds: 1 }, /parameters\.verifySeconds.*from 5 to 600/],
      [{ pattern: 'erp-*' }, /unknown parameter\(s\) pattern/],
    ];
    for (const [parameters, message] of bad) {
      const res = await request({ parameters }, 'senior');
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toMatch(message);
    }
    expect(await names()).toEqual(before);
    expect(await runCount()).toBe(runs);
    expect((await audited()).map((a: any) => [a.outcome, a.error_code])).toEqual([
      ['denied', 'FORBIDDEN'],
      ['denied', 'FORBIDDEN'],
    ]);
  });

  it('a dry run lists exactly the indices it would delete (by name, with sizes and counts) and changes nothing', async () => {
    const before = await names();
    const started = await logstashStartedAt();
    const res = await request({ parameters: { retentionDays: 41 }, dryRun: true }, 'senior');
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('succeeded');
    expect(res.body.steps.map((s: any) => [s.stepId, s.status])).toEqual([
      ['health', 'planned'],
      ['indices', 'planned'],
      ['delete-old', 'planned'],
      ['restart-logstash', 'planned'],
      ['verify', 'planned'],
    ]);
    expect(step(res.body, 'health').plan.status).toBe('green');
    expect(step(res.body, 'indices').plan.indices).toEqual(expect.arrayContaining([old45, old50, recent39, noDate]));
    const plan = step(res.body, 'delete-old').plan;
    const cutoff = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()) - 41 * DAY;
    const expected = before.filter((n) => {
      const d = indexDate(n);
      return d !== null && d.getTime() < cutoff;
    });
    expect(plan.delete.map((d: any) => d.index).sort()).toEqual(expected.sort());
    expect(plan.delete.map((d: any) => d.index)).toEqual(expect.arrayContaining([old45, old50]));
    expect(plan.delete.map((d: any) => d.index)).not.toContain(recent39);
    for (const d of plan.delete)
      expect(d).toMatchObject({ docsCount: expect.any(Number), storeSizeBytes: expect.any(Number), ageDays: expect.any(Number) });
    expect(plan.delete.find((d: any) => d.index === old45).ageDays).toBe(45);
    expect(plan.skipped.map((s: any) => s.index)).toEqual(expect.arrayContaining([noDate, badDate]));
    expect(plan.kept).toContain(recent39);
    expect(step(res.body, 'restart-logstash').plan.container).toBe('erp-logstash');
    expect(step(res.body, 'verify').plan.today).toBe(day(new Date()));
    // Nothing changed.
    expect(await names()).toEqual(before);
    expect(await logstashStartedAt()).toBe(started);
  });

  it("a real run deletes the old indices by name, keeps recent and undated ones, restarts Logstash and sees today's indices grow", async () => {
    const started = await logstashStartedAt();
    const today = `erp-backend-${day(new Date())}`;
    const res = await request({ parameters: { retentionDays: 41, verifySeconds: 30 } }, 'senior');
    expect(res.status).toBe(201);
    const run = await until(res.body.id);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    expect(run.steps.map((s: any) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);
    // Old ones gone; the 39-day-old, today's and the undated ones kept.
    expect(await exists(old45)).toBe(false);
    expect(await exists(old50)).toBe(false);
    for (const kept of [recent39, today, noDate, badDate]) expect({ kept, exists: await exists(kept) }).toEqual({ kept, exists: true });
    const deleted = step(run, 'delete-old').output;
    expect(deleted.deleted.map((d: any) => d.index)).toEqual(expect.arrayContaining([old45, old50]));
    expect(deleted.requests).toBeGreaterThanOrEqual(1);
    expect(deleted.reclaimedBytes).toBeGreaterThan(0);
    expect(deleted.skipped.map((s: any) => s.index)).toEqual(expect.arrayContaining([noDate, badDate]));
    // Logstash restarted and running.
    const restart = step(run, 'restart-logstash').output;
    expect(restart).toMatchObject({ container: 'erp-logstash', state: 'running', restarted: true, monitoringApi: 200 });
    expect(await logstashStartedAt()).not.toBe(started);
    // Today's indices grew.
    const verify = step(run, 'verify').output;
    expect(verify.today).toBe(day(new Date()));
    expect(verify.indices).toContain(today);
    expect(verify.countAfter).toBeGreaterThan(verify.countBefore);
    // The run record and its audit entry.
    expect(run).toMatchObject({
      procedureId: 'logs.elasticsearch-ingest',
      severity: 'P2',
      parameters: { retentionDays: 41, verifySeconds: 30 },
    });
    // Audited: the senior's dry run and this run.
    expect((await audited()).filter((a: any) => a.outcome === 'success' && /^seniordev/.test(a.actor)).length).toBe(2);
  });

  it("logs still not flowing (the noIngest fault kept on): the run ends escalated with Logstash's last lines and the P2 contacts", async () => {
    await setFault({ noIngest: true });
    try {
      const res = await request({ parameters: { retentionDays: 41, verifySeconds: 8 } }, 'senior');
      expect(res.status).toBe(201);
      const run = await until(res.body.id);
      expect(run.status).toBe('escalated');
      expect(run.error).toMatch(
        /logs are still not flowing: today's \(\d{4}\.\d{2}\.\d{2} UTC\) erp-\* indices stayed at \d+ documents for 8 s/,
      );
      expect(run.error).toMatch(/escalate to Support, Senior Dev \(P2, 15 min\)/);
      expect(run.steps.map((s: any) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded', 'failed']);
      const verify = step(run, 'verify');
      expect(verify.output).toMatchObject({
        level: 'P2',
        escalateTo: ['Support', 'Senior Dev'],
        countBefore: verify.output.countAfter,
      });
      expect(verify.output.logstashLastLines.length).toBeGreaterThan(0);
    } finally {
      await setFault({});
      await restoreService('elasticsearch', ES, '/');
    }
  });
});
