/**
 * The runbook's common issues 1, 2 and 6 as procedures, each against the fault it exists for
 * on the stand-in stack: idle connections opened here, slow statements, a crash-looping
 * backend (its crashOnStart fault switch). Notifications go to a real SMTP server and a
 * webhook receiver started here.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Client } from 'pg';
import { Role } from '../../src/common/rights';
import { withClient } from '../helpers/db';
import { ChatSink, MailSink } from '../helpers/notify-sinks';
import { TestApp } from '../helpers/test-app';
import { ERP_DB, RemediationHarness, startRemediationHarness } from './remediation-harness';
import {
  DATABASE_URL,
  healthStatus,
  inspect,
  REPO_ROOT,
  restoreService,
  setFaultFile,
  sleep,
  stackSql,
  waitFor,
} from '../stack/stack-helpers';

describe('remediations: connection pool, latency, crash loop', () => {
  let h: RemediationHarness;
  let t: TestApp;
  let mail: MailSink;
  let chat: ChatSink;

  before(async () => {
    h = await startRemediationHarness({
      roles: [
        ['viewer', Role.Viewer],
        ['operator', Role.Operator],
        ['support', Role.Support],
        ['senior', Role.SeniorDev],
        ['dba', Role.Dba],
        ['admin', Role.Admin],
      ],
    });
    ({ t, mail, chat } = h);
  });
  after(async () => {
    await h?.close();
  });

  const as = (who: string) => h.as(who);
  const get = (url: string, who = 'viewer') => h.get(url, who);
  const request = (id: string, body: object, who: string) => h.request(id, body, who);
  const until = (id: string, statuses: string[]) => h.until(id, statuses);
  const step = (run: any, id: string) => h.step(run, id);
  const audited = async (procedure: string) =>
    (
      await withClient(t.database, (c) =>
        c.query("SELECT actor, outcome, error_code FROM audit_entries WHERE action = 'procedure.request' AND target = $1 ORDER BY id", [
          `procedure:${procedure}`,
        ]),
      )
    ).rows;

  it('lists every remediation with its level, parameters schema, roles and approval', async () => {
    const res = await get('/api/v1/procedures');
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.map((p: any) => [p.id, p]));
    const expected: Record<string, string> = {
      'db.connection-pool-exhausted': 'P2',
      'api.high-latency': 'P3',
      'disk.cleanup': 'P2',
      'logs.elasticsearch-ingest': 'P2',
      'alerts.storm': 'P3',
      'backend.crash-loop': 'P2',
      'emergency.outage': 'P1',
      'emergency.data-corruption': 'P1',
    };
    for (const [id, level] of Object.entries(expected)) {
      expect(byId[id]).toBeDefined();
      expect(byId[id].severity).toBe(level);
    }
    expect(byId['emergency.data-corruption'].requiresApproval).toBe(true);
    expect(byId['emergency.data-corruption'].confirmation).toBe(true);
    expect(byId['emergency.outage'].roles).toEqual(['senior_dev', 'admin']);
    expect(byId['api.high-latency'].levelDependsOnParameters).toBe(true);
    expect(byId['db.connection-pool-exhausted'].parameters.properties.idleMinutes.type).toBe('number');
    expect(byId['db.connection-pool-exhausted'].parameters.additionalProperties).toBe(false);
    expect(byId['backend.crash-loop'].steps.map((s: any) => s.id)).toEqual(['diagnose', 'restart', 'watch']);
  });

  it('db.connection-pool-exhausted: ends the idle sessions above the threshold, never an active one, restarts the backend', async () => {
    // Under the threshold: nothing would be terminated.
    const calm = await request('db.connection-pool-exhausted', { dryRun: true, parameters: { idleMinutes: 0 } }, 'dba');
    expect(calm.status).toBe(201);
    expect(step(calm.body, 'terminate').plan.wouldTerminate).toEqual([]);

    const idle: Client[] = [];
    const busy = new Client({ connectionString: DATABASE_URL, application_name: 'pool-test-busy' });
    try {
      for (let i = 0; i < 160; i++) {
        const c = new Client({ connectionString: DATABASE_URL, application_name: 'pool-test-idle' });
        c.on('error', () => undefined);
        await c.connect();
        idle.push(c);
      }
      busy.on('error', () => undefined);
      await busy.connect();
      await sleep(3500);
      const sleeping = busy.query('SELECT pg_sleep(25)').catch((e: Error) => e);
      await sleep(300);
      const pids = (await stackSql<{ pid: number }>(ERP_DB, "SELECT pid FROM pg_stat_activity WHERE application_name = 'pool-test-idle'"))
        .map((r) => r.pid)
        .sort();
      expect(pids.length).toBe(160);

      // Below P2 (operator, support, viewer): 403 naming the level and whom to escalate to; audited.
      for (const who of ['operator', 'support']) {
        const denied = await request('db.connection-pool-exhausted', { parameters: { idleMinutes: 0.05 } }, who);
        expect(denied.status).toBe(403);
        expect(denied.body.message).toMatch(/P2 database procedure; escalate to Support, Senior Dev$/);
      }
      expect((await request('db.connection-pool-exhausted', { parameters: { idleMinutes: 0.05 } }, 'viewer')).status).toBe(403);
      // Bad parameters: 400 naming them, nothing recorded.
      const bad = await request('db.connection-pool-exhausted', { parameters: { idleMinutes: -1, pids: [1] } }, 'dba');
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toMatch(/parameters.idleMinutes/);
      expect(JSON.stringify(bad.body)).toMatch(/unknown parameter\(s\) pids/);

      // Dry run: the exact pids, and nothing changes.
      const dry = await request('db.connection-pool-exhausted', { dryRun: true, parameters: { idleMinutes: 0.05 } }, 'dba');
      expect(dry.body.status).toBe('succeeded');
      const planned = step(dry.body, 'terminate').plan.wouldTerminate;
      const plannedIdle = planned.filter((p: any) => p.application === 'pool-test-idle');
      expect(plannedIdle.map((p: any) => p.pid).sort()).toEqual(pids);
      expect(plannedIdle[0]).toEqual(expect.objectContaining({ user: 'postgres', state: 'idle' }));
      expect(planned.some((p: any) => p.application === 'pool-test-busy' || p.application.startsWith('erp-ops'))).toBe(false);
      expect(step(dry.body, 'connections').plan.connections.count).toBeGreaterThan(150);
      expect((await stackSql(ERP_DB, "SELECT pid FROM pg_stat_activity WHERE application_name = 'pool-test-idle'")).length).toBe(160);
      const startedBefore = (await inspect('erp-backend')).State.StartedAt;

      const res = await request('db.connection-pool-exhausted', { parameters: { idleMinutes: 0.05 } }, 'dba');
      expect(res.status).toBe(201);
      const run = await until(res.body.id, ['succeeded', 'failed', 'escalated']);
      expect(run.error).toBeNull();
      expect(run.status).toBe('succeeded');
      const terminated: number[] = step(run, 'terminate').output.terminated;
      expect(pids.every((pid) => terminated.includes(pid))).toBe(true);
      expect(await stackSql(ERP_DB, "SELECT pid FROM pg_stat_activity WHERE application_name = 'pool-test-idle'")).toEqual([]);
      // The active session was spared.
      expect((await stackSql(ERP_DB, "SELECT pid FROM pg_stat_activity WHERE application_name = 'pool-test-busy'")).length).toBe(1);
      expect(step(run, 'verify').output.connections).toBeLessThan(150);
      expect(step(run, 'restart-backend').output.restarted).toBe(true);
      expect((await inspect('erp-backend')).State.StartedAt).not.toBe(startedBefore);
      expect(await healthStatus('erp-backend')).toBe('healthy');
      expect(run.requestedBy).toMatch(/^dba/);
      const audit = await audited('db.connection-pool-exhausted');
      expect(audit.filter((a) => a.outcome === 'denied' && a.error_code === 'FORBIDDEN').length).toBeGreaterThanOrEqual(2);
      expect(audit.filter((a) => a.outcome === 'success').length).toBe(3); // two dry runs and the run
      busy.query('SELECT pg_cancel_backend(pg_backend_pid())').catch(() => undefined);
      await sleeping;
    } finally {
      await Promise.all([...idle, busy].map((c) => c.end().catch(() => undefined)));
    }
  });

  it('api.high-latency: slow statements from v_slow_queries, slowest endpoints, Redis; the restart needs P2', async () => {
    // Slow statements the view will show (mean > 100 ms), and nothing slower from other tests.
    await stackSql(ERP_DB, 'SELECT pg_stat_statements_reset()');
    for (let i = 0; i < 3; i++) await stackSql(ERP_DB, 'SELECT pg_sleep(0.15), count(*) FROM products');
    expect((await request('api.high-latency', { dryRun: true }, 'viewer')).status).toBe(403); // P3: viewers only read
    const dry = await request('api.high-latency', { dryRun: true }, 'operator');
    expect(dry.body.status).toBe('succeeded');
    expect(step(dry.body, 'restart').plan.restart).toBe(false);

    const res = await request('api.high-latency', { parameters: { window: '5m' } }, 'operator');
    const run = await until(res.body.id, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    const slow = step(run, 'slow-queries').output;
    expect(slow.source).toBe('v_slow_queries');
    expect(slow.queries.some((q: any) => /pg_sleep/.test(q.query) && q.meanMs > 100)).toBe(true);
    const endpoints = step(run, 'endpoints').output;
    expect(endpoints.slowestEndpoints.length).toBeGreaterThan(0);
    expect(endpoints.slowestEndpoints[0].endpoint).toMatch(/^\//);
    expect(typeof endpoints.p95Seconds).toBe('number');
    expect(step(run, 'redis').output.limitMb).toBe(512);
    expect(step(run, 'redis').output.usedMb).toBeGreaterThan(0);
    const report = step(run, 'report').output;
    expect(report.suggestedNextSteps.join(' ')).toMatch(/EXPLAIN ANALYZE on the slowest query .*pg_sleep/);
    expect(report.restarted).toBe(false);
    expect(run.severity).toBe('P3');

    // The restart makes it P2: operator and support 403 with the level named; senior_dev may.
    const denied = await request('api.high-latency', { parameters: { restartBackend: true } }, 'operator');
    expect(denied.status).toBe(403);
    expect(denied.body.message).toMatch(/with these parameters it is a P2 system action/);
    expect((await request('api.high-latency', { parameters: { restartBackend: true } }, 'viewer')).status).toBe(403);
    const withRestart = await request('api.high-latency', { parameters: { restartBackend: true, window: '1m' } }, 'senior');
    const restarted = await until(withRestart.body.id, ['succeeded', 'failed']);
    expect(restarted.status).toBe('succeeded');
    expect(restarted.severity).toBe('P2');
    expect(step(restarted, 'restart').output).toEqual(expect.objectContaining({ restarted: true, health: 'healthy' }));
    const bad = await request('api.high-latency', { parameters: { window: '5 minutes' } }, 'operator');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/parameters.window/);
  });

  it('says clearly when pg_stat_statements is missing', async () => {
    await stackSql(ERP_DB, 'DROP VIEW IF EXISTS v_slow_queries');
    await stackSql(ERP_DB, 'DROP EXTENSION IF EXISTS pg_stat_statements');
    try {
      const res = await request('api.high-latency', {}, 'operator');
      const run = await until(res.body.id, ['succeeded', 'failed']);
      expect(run.status).toBe('succeeded');
      expect(step(run, 'slow-queries').output).toEqual(expect.objectContaining({ source: 'none', queries: [] }));
      expect(step(run, 'slow-queries').output.note).toMatch(/pg_stat_statements extension is not installed/);
      expect(step(run, 'report').output.suggestedNextSteps.join(' ')).toMatch(/slow queries unknown/);
    } finally {
      execFileSync('node', [path.join(REPO_ROOT, 'scripts/stack/seed.js'), '--scale', 'small', '--seed', '11', '--anchor', '2026-01-19'], {
        encoding: 'utf8',
      });
    }
  });

  it('backend.crash-loop: a crash loop whose cause is fixed comes back; one that is not ends escalated with the logs and the P1 contact', async () => {
    // Permission: P2 system; every role below gets 403.
    for (const who of ['viewer', 'operator', 'support']) expect((await request('backend.crash-loop', {}, who)).status).toBe(403);

    setFaultFile('backend', { crashOnStart: true });
    try {
      await stackSql('postgres', 'SELECT 1');
      // Make it crash: restart it with the switch set; Docker's restart policy loops it.
      execFileSync('docker', ['restart', '-t', '2', 'erp-backend']);
      await waitFor(
        'erp-backend crash-looping',
        async () => (await inspect('erp-backend')).RestartCount > 0 || (await inspect('erp-backend')).State.Restarting,
        60_000,
      );

      const dry = await request('backend.crash-loop', { dryRun: true }, 'senior');
      expect(dry.body.status).toBe('succeeded');
      const diagnosis = step(dry.body, 'diagnose').plan;
      expect(diagnosis.postgres).toEqual(expect.objectContaining({ container: 'erp-postgres', state: 'running', health: 'healthy' }));
      expect(diagnosis.databaseUrl).toEqual({ set: true, value: 'postgresql://postgres:****@127.0.0.1:15432/erp_quty_karunia_prod' });
      expect(JSON.stringify(dry.body)).not.toMatch(/erp-stack-dev/);
      expect(diagnosis.logs.join('\n')).toMatch(/crash-on-start fault switch is set/);
      expect(step(dry.body, 'restart').status).toBe('planned');

      // Not fixed: escalated, with the last 200 lines and the P1 contact, notified.
      const before = chat.bodies.length;
      const stuck = await request('backend.crash-loop', { parameters: { deadlineSeconds: 8, pauseSeconds: 1 } }, 'senior');
      const escalated = await until(stuck.body.id, ['succeeded', 'failed', 'escalated']);
      expect(escalated.status).toBe('escalated');
      expect(escalated.error).toMatch(/escalate to On-Call Senior Dev \(P1, System down, 5 min\)$/);
      const watch = step(escalated, 'watch').output;
      expect(watch.logs.length).toBeGreaterThan(1);
      expect(watch.logs.length).toBeLessThanOrEqual(200);
      expect(watch.logs.join('\n')).toMatch(/crash-on-start/);
      // The escalation table's "System down" row: the senior dev on call, not the DBA of "Data at risk".
      expect([watch.escalateTo, watch.situation]).toEqual([['On-Call Senior Dev'], 'System down']);
      expect(watch.notified.every((d: any) => d.delivered)).toBe(true);
      await waitFor('the escalation on chat', async () => chat.bodies.length > before, 10_000);
      expect(chat.bodies.at(-1)!.channel).toBe('#erp-emergency');
      expect(chat.bodies.at(-1)!.text).toMatch(/still crashing/);
      await waitFor('the escalation mail', async () => mail.messages.some((m) => /still crashing/.test(m.subject ?? '')), 10_000);

      // The cause fixed: the procedure brings it back.
      setFaultFile('backend', {});
      const res = await request('backend.crash-loop', { parameters: { deadlineSeconds: 60, pauseSeconds: 1 } }, 'senior');
      const run = await until(res.body.id, ['succeeded', 'failed', 'escalated']);
      expect(run.error).toBeNull();
      expect(run.status).toBe('succeeded');
      expect(step(run, 'watch').output).toEqual(expect.objectContaining({ state: 'running', health: 'healthy', healthUrlStatus: 200 }));
      expect(await healthStatus('erp-backend')).toBe('healthy');
    } finally {
      await restoreService('backend', 18000, '/health');
    }
  });

  it('backend.crash-loop cancelled while the backend is stopped: it is started again, never left down', async () => {
    const res = await request('backend.crash-loop', { parameters: { pauseSeconds: 30, deadlineSeconds: 30 } }, 'senior');
    await waitFor('the backend stopped by the run', async () => (await inspect('erp-backend')).State.Status === 'exited', 30_000);
    const cancel = await t.http().post(`/api/v1/runs/${res.body.id}/cancel`).set('Authorization', as('senior')).send({});
    expect(cancel.status).toBe(200);
    const run = await until(res.body.id, ['cancelled', 'failed', 'succeeded']);
    expect(run.status).toBe('cancelled');
    expect(step(run, 'restart').status).toBe('cancelled');
    expect(step(run, 'watch').status).toBe('cancelled');
    await waitFor('erp-backend running again', async () => (await inspect('erp-backend')).State.Status === 'running', 30_000);
    await restoreService('backend', 18000, '/health');
  });
});
