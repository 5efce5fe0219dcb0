/**
 * The runbook's emergency procedures on the stand-in stack: a complete outage (several
 * containers stopped; a backend that will not come back) and data corruption (a bad row
 * injected after a verified backup). Notifications go to a real SMTP server and a webhook
 * receiver started here.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { withClient } from '../helpers/db';
import { ChatSink, MailSink } from '../helpers/notify-sinks';
import { TestApp } from '../helpers/test-app';
import { ERP_DB, RemediationHarness, startRemediationHarness } from './remediation-harness';
import { inspect, REPO_ROOT, restoreService, setFaultFile, SERVICES, stackSql, waitFor } from '../stack/stack-helpers';

const NEGATIVE_STOCK = 'SELECT count(*) FROM stock_quants WHERE quantity < 0';

describe('emergency procedures on the stand-in stack', () => {
  let h: RemediationHarness;
  let t: TestApp;
  let dir: string;
  let mail: MailSink;
  let chat: ChatSink;

  before(async () => {
    h = await startRemediationHarness({
      roles: [
        ['viewer', Role.Viewer],
        ['operator', Role.Operator],
        ['support', Role.Support],
        ['senior', Role.SeniorDev],
        ['senior2', Role.SeniorDev],
        ['dba', Role.Dba],
        ['admin', Role.Admin],
      ],
      inventoryPatch: (doc: Record<string, any>) => {
        doc.erpDatabase.integrityChecks = [
          { name: 'products without id', sql: 'SELECT count(*) FROM products WHERE id IS NULL' },
          { name: 'negative stock', sql: NEGATIVE_STOCK },
        ];
      },
      untilMs: 300_000,
    });
    ({ t, dir, mail, chat } = h);
  });
  after(async () => {
    await h?.close();
  });

  const as = (who: string) => h.as(who);
  const get = (url: string, who = 'viewer') => h.get(url, who);
  const request = (id: string, body: object, who: string) => h.request(id, body, who);
  const decide = (runId: string, who: string) => t.http().post(`/api/v1/runs/${runId}/approve`).set('Authorization', as(who)).send({});
  const until = (id: string, statuses: string[]) => h.until(id, statuses);
  const step = (run: any, id: string) => h.step(run, id);
  const states = async () =>
    Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, (await inspect(`erp-${s}`)).State.Status] as const)));
  const everythingUp = async () => {
    for (const [service, port, probe] of [
      ['backend', 18000, '/health'],
      ['grafana', 13000, '/api/health'],
      ['kibana', 15601, '/api/status'],
      ['logstash', 19600, '/'],
    ] as const) {
      await restoreService(service, port, probe);
    }
    for (const s of SERVICES) if ((await inspect(`erp-${s}`)).State.Status !== 'running') execFileSync('docker', ['start', `erp-${s}`]);
  };

  it('emergency.outage: several services down → notified, restarted, checklist green, timeline reported', async () => {
    const down = ['erp-redis', 'erp-nginx', 'erp-grafana', 'erp-kibana'];
    execFileSync('docker', ['stop', '-t', '2', ...down]);
    try {
      // P1 system: senior_dev and admin only.
      for (const who of ['operator', 'support', 'dba', 'viewer']) expect((await request('emergency.outage', {}, who)).status).toBe(403);
      const denied = await request('emergency.outage', {}, 'dba');
      // The escalation table's "System down" row names only the senior dev on call.
      expect(denied.body.message).toMatch(/P1 system procedure; escalate to On-Call Senior Dev$/);
      expect(denied.body.details).toMatchObject({ escalateTo: ['On-Call Senior Dev'], situation: 'System down', responseMinutes: 5 });
      // The hourly check sees two critical services down: the outage procedure, and the P1
      // "System down" row (the senior dev on call within 5 min).
      const hourly = await t.http().post('/api/v1/checklists?kind=hourly').set('Authorization', as('operator'));
      expect(hourly.status).toBe(201);
      expect(hourly.body.items.find((i: any) => i.item === 'services')).toMatchObject({
        verdict: 'fail',
        remediation: 'emergency.outage',
        escalation: { severity: 'P1', situation: 'System down', contacts: ['On-Call Senior Dev'], responseMinutes: 5 },
      });

      const mailsBefore = mail.messages.length;
      const dry = await request('emergency.outage', { dryRun: true }, 'senior');
      expect(dry.body.status).toBe('succeeded');
      expect(step(dry.body, 'diagnose').plan.down.sort()).toEqual(['grafana', 'kibana', 'nginx', 'redis']);
      expect(step(dry.body, 'notify').plan).toEqual({
        would: 'notify',
        chat: '#erp-emergency',
        email: ['erp-support@qutykarunia.com', 'management@qutykarunia.com'],
      });
      expect(step(dry.body, 'recreate').plan.up).toEqual([
        ['erp-postgres', 'erp-redis', 'erp-elasticsearch'],
        ['erp-backend', 'erp-prometheus', 'erp-grafana', 'erp-alertmanager', 'erp-logstash', 'erp-kibana'],
        ['erp-nginx'],
      ]);
      // The dry run changed nothing and sent nothing.
      for (const c of down) expect((await inspect(c)).State.Status).toBe('exited');
      expect(mail.messages.length).toBe(mailsBefore);

      const res = await request('emergency.outage', { parameters: { restartSeconds: 90, recoverySeconds: 120 } }, 'senior');
      expect(res.status).toBe(201);
      const run = await until(res.body.id, ['succeeded', 'failed', 'escalated']);
      expect(run.error).toBeNull();
      expect(run.status).toBe('succeeded');
      expect(Object.values(await states()).every((s) => s === 'running')).toBe(true);
      expect(step(run, 'restart').output.recovered).toBe(true);
      expect(step(run, 'recreate').output).toEqual({ recreated: false, reason: 'every service came back with the restart' });
      const diagnosis = step(run, 'diagnose').output;
      expect(diagnosis.down.sort()).toEqual(['grafana', 'kibana', 'nginx', 'redis']);
      expect(diagnosis.host.cpus).toBeGreaterThan(0);
      const verify = step(run, 'verify').output;
      const checklist = (await get(`/api/v1/checklists/${verify.checklistRunId}`)).body;
      expect(checklist.items.map((i: any) => [i.item, i.verdict === 'pass' || i.verdict === 'warn'])).toEqual(
        checklist.items.map((i: any) => [i.item, true]),
      );
      const report = step(run, 'report').output;
      expect(report.timeline.map((s: any) => s.step)).toEqual(['notify', 'diagnose', 'restart', 'recreate', 'verify', 'report']);
      expect(report.timeline[0].startedAt).toBeTruthy();
      expect(report.recoveredInMinutes).toBeGreaterThan(0);
      // Notified: outage, then recovery, on the emergency channel and to support and management.
      expect(step(run, 'notify').output.allDelivered).toBe(true);
      await waitFor('two mails', async () => mail.messages.length >= mailsBefore + 2, 10_000);
      const [detected, recovered] = mail.messages.slice(mailsBefore);
      expect(detected.subject).toMatch(/^ERP system outage detected at \d\d:\d\d$/);
      expect(detected.text).toMatch(/System outage detected at \d\d:\d\d\. Investigating\.\.\./);
      expect(JSON.stringify(detected.to)).toMatch(/erp-support@qutykarunia.com/);
      expect(JSON.stringify(detected.to)).toMatch(/management@qutykarunia.com/);
      expect(recovered.subject).toMatch(/^ERP system recovered at/);
      expect(chat.bodies.slice(-2).map((b) => b.channel)).toEqual(['#erp-emergency', '#erp-emergency']);
      const audit = (
        await withClient(t.database, (c) =>
          c.query(
            "SELECT outcome FROM audit_entries WHERE action = 'procedure.request' AND target = 'procedure:emergency.outage' ORDER BY id",
          ),
        )
      ).rows;
      expect(audit.filter((a) => a.outcome === 'denied').length).toBeGreaterThanOrEqual(3);
      expect(audit.filter((a) => a.outcome === 'success').length).toBe(2);
    } finally {
      await everythingUp();
    }
  });

  it('emergency.outage: recreate (down, then up in dependency order) brings stopped services back', async () => {
    const down = ['erp-backend', 'erp-nginx', 'erp-logstash'];
    execFileSync('docker', ['stop', '-t', '2', ...down]);
    const ids = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, (await inspect(`erp-${s}`)).Id] as const)));
    try {
      const res = await request('emergency.outage', { parameters: { recreate: true, recoverySeconds: 180 } }, 'admin');
      const run = await until(res.body.id, ['succeeded', 'failed', 'escalated']);
      expect(run.error).toBeNull();
      expect(run.status).toBe('succeeded');
      expect(step(run, 'restart').output.skipped).toMatch(/recreate: true/);
      const timeline = step(run, 'recreate').output.timeline;
      expect(timeline.map((t: any) => t.tier)).toEqual([
        ['postgres', 'redis', 'elasticsearch'],
        ['backend', 'prometheus', 'grafana', 'alertmanager', 'logstash', 'kibana'],
        ['nginx'],
      ]);
      expect(timeline.every((t: any) => t.down.length === 0)).toBe(true);
      // New containers (recreated), same names, labels and configuration; all running.
      for (const s of SERVICES) {
        const c = await inspect(`erp-${s}`);
        expect(c.Id).not.toBe(ids[s]);
        expect(c.State.Status).toBe('running');
        expect(c.Config.Labels['com.docker.compose.service']).toBe(s);
        expect(c.HostConfig.NetworkMode).toBe('host');
        expect(c.HostConfig.RestartPolicy.Name).toBe('unless-stopped');
      }
      expect((await inspect('erp-backend')).Config.Env).toEqual(expect.arrayContaining([expect.stringMatching(/^DATABASE_URL=/)]));
      expect((await stackSql(ERP_DB, 'SELECT count(*)::int AS n FROM products'))[0].n).toBe(500); // the data volume survived
      execFileSync('bash', [path.join(REPO_ROOT, 'scripts/stack/status.sh')]);
    } finally {
      await everythingUp();
    }
  });

  it('emergency.outage: a backend that will not come back ends escalated (P1), with what is still down', async () => {
    setFaultFile('backend', { crashOnStart: true });
    execFileSync('docker', ['restart', '-t', '2', 'erp-backend']);
    try {
      const mailsBefore = mail.messages.length;
      const res = await request('emergency.outage', { parameters: { restartSeconds: 10, recoverySeconds: 15 } }, 'senior');
      const run = await until(res.body.id, ['succeeded', 'failed', 'escalated']);
      expect(run.status).toBe('escalated');
      // The emergency channel hears the escalation (runbook step 4).
      expect(step(run, 'recreate').output.notified.map((d: any) => [d.channel, d.delivered])).toEqual([
        ['chat', true],
        ['email', true],
      ]);
      await waitFor(
        'the escalation mail',
        async () => mail.messages.slice(mailsBefore).some((m) => /ERP outage not recovered: escalated \(P1\)/.test(m.subject ?? '')),
        10_000,
      );
      expect(run.error).toMatch(
        /recreating did not bring backend up within 15 s: escalate to the Senior Developer and prepare a rollback; escalate to On-Call Senior Dev \(P1, System down, 5 min\)$/,
      );
      expect(step(run, 'restart').output.recovered).toBe(false);
      expect(step(run, 'restart').output.down.map((d: any) => d.service)).toContain('backend');
      expect(step(run, 'recreate').output.down.map((d: any) => d.service)).toEqual(['backend']);
      expect(step(run, 'verify').status).toBe('skipped');
    } finally {
      setFaultFile('backend', {});
      await everythingUp();
    }
  });

  it('emergency.data-corruption: two people, typed confirmation; corruption found → paused and escalated; with a verified backup → restored, resumed, smoke-tested, notified', async () => {
    // A verified backup of the good state.
    const made = await t.http().post('/api/v1/backups?wait=true').set('Authorization', as('operator')).send({});
    expect(made.body.run.status).toBe('succeeded');
    const good = made.body.backup;
    const verified = await t.http().post(`/api/v1/backups/${good.id}/verify?wait=true`).set('Authorization', as('operator')).send({});
    expect(verified.body.backup.verifyStatus).toBe('verified');
    // The corruption.
    await stackSql(ERP_DB, 'UPDATE stock_quants SET quantity = -5 WHERE id IN (SELECT id FROM stock_quants ORDER BY id LIMIT 3)');
    expect((await stackSql(ERP_DB, `${NEGATIVE_STOCK}`))[0].count).toBe('3');

    // Rights: P1 system (senior_dev requests), a dba approves; bad input 400.
    for (const who of ['operator', 'support', 'dba', 'viewer'])
      expect((await request('emergency.data-corruption', { confirm: ERP_DB }, who)).status).toBe(403);
    const unconfirmed = await request('emergency.data-corruption', {}, 'senior');
    expect(unconfirmed.status).toBe(400);
    expect(JSON.stringify(unconfirmed.body)).toMatch(/must equal \\"erp_quty_karunia_prod\\"/);
    const badId = await request(
      'emergency.data-corruption',
      { confirm: ERP_DB, parameters: { restoreBackupId: '../etc/passwd' } },
      'senior',
    );
    expect(badId.status).toBe(400);
    expect(JSON.stringify(badId.body)).toMatch(/parameters.restoreBackupId/);

    // The dry run: every step's plan; nothing paused, no backup made.
    const files = readdirSync(dir).length;
    const dry = await request('emergency.data-corruption', { dryRun: true, parameters: { restoreBackupId: good.id } }, 'senior');
    expect(dry.body.status).toBe('succeeded');
    expect(step(dry.body, 'restore').plan).toEqual(
      expect.objectContaining({ restore: true, backupId: good.id, verifyStatus: 'verified', database: ERP_DB }),
    );
    expect(step(dry.body, 'integrity').plan.checks.map((c: any) => c.name)).toEqual(['products without id', 'negative stock']);
    expect((await inspect('erp-backend')).State.Paused).toBe(false);
    expect(readdirSync(dir).length).toBe(files);

    // Checks only: corruption found → the backend stays paused, the run escalates.
    const first = await request('emergency.data-corruption', { confirm: ERP_DB }, 'senior');
    expect(first.body.status).toBe('awaiting_approval');
    expect((await decide(first.body.id, 'senior2')).status).toBe(403); // same role
    expect((await decide(first.body.id, 'senior')).status).toBe(403); // self
    expect((await decide(first.body.id, 'dba')).status).toBe(200);
    const checked = await until(first.body.id, ['succeeded', 'failed', 'escalated']);
    expect(checked.status).toBe('escalated');
    expect(checked.approvedBy).toMatch(/^dba/);
    expect(checked.error).toMatch(/corruption found and no backup chosen to restore: the backend stays paused/);
    const findings = step(checked, 'integrity').output.findings;
    expect(findings).toEqual([
      expect.objectContaining({ name: 'products without id', wrongRows: 0 }),
      expect.objectContaining({ name: 'negative stock', wrongRows: 3 }),
    ]);
    expect(step(checked, 'integrity').output.amcheck.installed).toBe(false);
    expect(step(checked, 'backup').output.fileName).toMatch(/\.sql\.gz$/);
    expect((await inspect('erp-backend')).State.Paused).toBe(true);

    // With the verified backup: restored, resumed, smoke-tested, notified.
    const mailsBefore = mail.messages.length;
    const second = await request('emergency.data-corruption', { confirm: ERP_DB, parameters: { restoreBackupId: good.id } }, 'senior');
    expect((await decide(second.body.id, 'dba')).status).toBe(200);
    const restored = await until(second.body.id, ['succeeded', 'failed', 'escalated']);
    expect(restored.error).toBeNull();
    expect(restored.status).toBe('succeeded');
    expect((await stackSql(ERP_DB, NEGATIVE_STOCK))[0].count).toBe('0');
    expect(step(restored, 'restore').output.productsRows).toBe(500);
    expect((await inspect('erp-backend')).State.Paused).toBe(false);
    expect(
      step(restored, 'smoke')
        .output.items.filter((i: any) => ['services', 'database', 'api'].includes(i.item))
        .map((i: any) => i.verdict),
    ).toEqual(['pass', 'pass', 'pass']);
    await waitFor('the maintenance and restored mails', async () => mail.messages.length >= mailsBefore + 2, 10_000);
    expect(mail.messages.slice(mailsBefore).map((m) => m.subject)).toEqual(['ERP system in maintenance', 'ERP system restored']);
    expect(chat.bodies.slice(-1)[0].text).toMatch(/System restored/);
  });

  it('emergency.data-corruption: a failing step before the database is touched unpauses the backend', async () => {
    const made = await t.http().post('/api/v1/backups?wait=true').set('Authorization', as('operator')).send({});
    const unverified = made.body.backup;
    await stackSql(ERP_DB, 'UPDATE stock_quants SET quantity = -1 WHERE id IN (SELECT id FROM stock_quants ORDER BY id LIMIT 1)');
    try {
      const res = await request('emergency.data-corruption', { confirm: ERP_DB, parameters: { restoreBackupId: unverified.id } }, 'senior');
      expect((await decide(res.body.id, 'admin')).status).toBe(200);
      const run = await until(res.body.id, ['succeeded', 'failed', 'escalated']);
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(/only a verified backup is restored here .*the database was not touched, the backend was unpaused/);
      expect((await inspect('erp-backend')).State.Paused).toBe(false);
      expect((await stackSql(ERP_DB, NEGATIVE_STOCK))[0].count).toBe('1');
    } finally {
      await stackSql(ERP_DB, 'UPDATE stock_quants SET quantity = 1 WHERE quantity < 0');
    }
  });
});
