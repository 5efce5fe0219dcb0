/**
 * Issue 15, item 3: the stand-in Prometheus scrapes the control plane's /metrics with the token
 * of its service identity "prometheus" (scope metrics.read), and the ERP's own BackupFailed rule
 * (stack/prometheus/alert_rules.yml, unchanged: `time() - backup_last_successful_timestamp >
 * 86400`, `for: 1h`) evaluates against what it scraped.
 *
 * The job erp-ops-control-plane reads its token and its targets from a host directory up.sh
 * mounts into erp-prometheus alone; here a control plane under test answers on 127.0.0.1:3100
 * (a forwarder to it), its own "prometheus" token is written to that file, the target file names
 * 3100, and both files are put back after. The newest backup becomes a day old by moving its
 * catalog time back 25 hours (as the checklist's freshness test does; a day cannot pass here).
 *
 * Prometheus holds the alert `pending` for the rule's hour before `firing`; an hour cannot pass
 * in a test either, so the hour itself is shown by promtool (Prometheus's own rule evaluator) on
 * the same rule file, fed with the values this Prometheus scraped.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { projectRoot } from '../../src/common/paths';
import { Role } from '../../src/common/rights';
import { withClient } from '../helpers/db';
import { startTestApp, TestApp } from '../helpers/test-app';
import { get, inspect, PORTS, waitFor } from '../stack/stack-helpers';

const STACK_INVENTORY = 'stack/ops.stack.yaml';
const CONTROL_PLANE_PORT = 3100;
const MOUNT = '/run/controlplane';
const JOB = 'erp-ops-control-plane';
const MINUTE = 60_000;

/** Replaces a file in one rename (Prometheus reads the token on every scrape, the targets when they change). */
function replaceFile(file: string, content: string, mode = 0o600): void {
  const staged = `${file}.${process.pid}.tmp`;
  writeFileSync(staged, content, { mode });
  renameSync(staged, file);
}

/** 127.0.0.1:3100 → the control plane under test, byte for byte. */
async function forward(port: number, to: URL): Promise<{ close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(to.port), to.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`127.0.0.1:${port} is taken: this test answers Prometheus there`) : e),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const prometheus = async (path: string) => {
  const res = await get(PORTS.prometheus, path);
  return res.json().data;
};
const query = async (expr: string) => (await prometheus(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result as any[];
const backupFailed = async () =>
  ((await prometheus('/api/v1/alerts')).alerts as any[]).filter((a) => a.labels.alertname === 'BackupFailed' && a.labels.job === JOB);
const target = async () => ((await prometheus('/api/v1/targets?state=active')).activeTargets as any[]).find((x) => x.labels.job === JOB);

describe("the ERP's BackupFailed rule against the control plane's metrics in the stand-in Prometheus", () => {
  let t: TestApp;
  let operator: string;
  let relay: Awaited<ReturnType<typeof forward>>;
  let dir: string;
  const saved: Record<string, { content: string; mode: number } | null> = {};
  const files = () => ({ token: join(dir, 'token'), targets: join(dir, 'targets.json') });

  before(async () => {
    const mount = ((await inspect('erp-prometheus')).Mounts as { Source: string; Destination: string }[]).find(
      (m) => m.Destination === MOUNT,
    );
    if (!mount) throw new Error(`erp-prometheus has no ${MOUNT} mount: bring the stack up with this checkout's scripts/stack/up.sh`);
    dir = mount.Source;
    for (const file of Object.values(files()))
      saved[file] = existsSync(file) ? { content: readFileSync(file, 'utf8'), mode: statSync(file).mode & 0o777 } : null;
    t = await startTestApp({ inventoryFile: STACK_INVENTORY });
    operator = await t.tokenFor(Role.Operator);
    relay = await forward(CONTROL_PLANE_PORT, new URL(t.url));
    // The command up.sh runs, against this control plane's database, into Prometheus's file.
    const cli = spawnSync(
      process.execPath,
      [join(projectRoot(), 'dist/src/cli/user.js'), 'service-token', 'prometheus', '--scopes', 'metrics.read', '--out', files().token],
      { env: { ...process.env, ...t.env, OPS_INVENTORY: join(projectRoot(), STACK_INVENTORY) }, encoding: 'utf8', timeout: 90_000 },
    );
    if (cli.status !== 0) throw new Error(`service-token failed (${cli.status}): ${cli.stderr}`);
    replaceFile(files().targets, JSON.stringify([{ targets: [`127.0.0.1:${CONTROL_PLANE_PORT}`] }]), 0o644);
  });

  after(async () => {
    if (dir)
      for (const [file, was] of Object.entries(saved)) {
        if (was) replaceFile(file, was.content, was.mode);
        else rmSync(file, { force: true });
      }
    await relay?.close();
    await t?.close();
  });

  const backup = async () => {
    const res = await t.http().post('/api/v1/backups?wait=true').set('Authorization', `Bearer ${operator}`).send({});
    if (res.status !== 200 || res.body.run.status !== 'succeeded') throw new Error(`backup: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.backup as { id: string; createdAt: string };
  };

  it('is scraped with its token: the target is up and its scrapes are answered 200; without the token the same request gets 401', async () => {
    const up = await waitFor(
      'the control plane scraped',
      async () => ((await target())?.health === 'up' ? await target() : undefined),
      2 * MINUTE,
      1000,
    );
    expect(up.scrapeUrl).toBe(`http://127.0.0.1:${CONTROL_PLANE_PORT}/metrics`);
    expect(up.lastError).toBe('');
    // The scrapes were answered 200 (each counted by the next one).
    const seen = await waitFor(
      'a scrape counted',
      async () => (await query(`ops_http_requests_total{job="${JOB}",route="/metrics",status="200"}`))[0],
      MINUTE,
      1000,
    );
    expect(Number(seen.value[1])).toBeGreaterThanOrEqual(1);
    expect(await query(`ops_http_requests_total{job="${JOB}",route="/metrics",status=~"40."}`)).toEqual([]);
    // The same request without the token is refused (what Prometheus would get without its file).
    expect((await fetch(`http://127.0.0.1:${CONTROL_PLANE_PORT}/metrics`)).status).toBe(401);
  });

  it('goes pending when the newest backup is a day old and leaves when a new backup is made; promtool shows the hour to firing', async () => {
    const first = await backup();
    await waitFor(
      'the fresh backup scraped',
      async () =>
        Number((await query(`backup_last_successful_timestamp{job="${JOB}"}`))[0]?.value[1]) === Date.parse(first.createdAt) / 1000,
      2 * MINUTE,
      1000,
    );
    // (Before its first backup the control plane exports 0, "never": the rule is true then too.)
    await waitFor('no BackupFailed with a fresh backup', async () => (await backupFailed()).length === 0, 2 * MINUTE, 1000);

    // A day passes without a backup.
    await withClient(t.database, (c) =>
      c.query("UPDATE backups SET created_at = created_at - interval '25 hours' WHERE id = $1", [first.id]),
    );
    const pending = await waitFor('BackupFailed pending', async () => (await backupFailed())[0], 2 * MINUTE, 1000);
    expect(pending).toMatchObject({
      state: 'pending',
      labels: {
        alertname: 'BackupFailed',
        severity: 'critical',
        component: 'backup',
        job: JOB,
        instance: `127.0.0.1:${CONTROL_PLANE_PORT}`,
      },
      annotations: { summary: 'No successful backup for 24 h' },
    });
    // The rule's value: the age Prometheus computed from the scraped timestamp, 25 h and a little.
    expect(Number(pending.value)).toBeGreaterThan(25 * 3600);
    expect(Number(pending.value)).toBeLessThan(25 * 3600 + 600);
    const rule = ((await prometheus('/api/v1/rules?type=alert')).groups as any[])
      .flatMap((g) => g.rules)
      .find((r: any) => r.name === 'BackupFailed');
    expect([rule.query, rule.duration]).toEqual(['time() - backup_last_successful_timestamp > 86400', 3600]);
    const aged = Number((await query(`backup_last_successful_timestamp{job="${JOB}"}`))[0].value[1]);
    expect(aged).toBe(Date.parse(first.createdAt) / 1000 - 25 * 3600);

    // A new backup: the alert is gone at the next evaluations.
    const second = await backup();
    await waitFor('BackupFailed gone', async () => (await backupFailed()).length === 0, 2 * MINUTE, 1000);
    const fresh = Number((await query(`backup_last_successful_timestamp{job="${JOB}"}`))[0].value[1]);
    expect(fresh).toBe(Date.parse(second.createdAt) / 1000);

    // The rule's hour, evaluated by promtool on the same file with what was scraped: the aged
    // timestamp for 70 minutes (pending, then firing once the hour is over), then the new one.
    const work = mkdtempSync(join(tmpdir(), 'backup-failed-rule-'));
    try {
      // promtool's clock starts at 0: the scraped timestamp as an offset from the moment the
      // alert went pending (its age then, as this Prometheus computed it), and the new backup
      // made at minute 71.
      const ageAtStart = Math.round(Number(pending.value));
      const tests = {
        rule_files: [join(projectRoot(), 'stack/prometheus/alert_rules.yml')],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [
              {
                series: `backup_last_successful_timestamp{job="${JOB}",instance="127.0.0.1:${CONTROL_PLANE_PORT}"}`,
                values: `${-ageAtStart}+0x70 ${71 * 60}+0x20`,
              },
            ],
            alert_rule_test: [
              { eval_time: '59m', alertname: 'BackupFailed', exp_alerts: [] },
              {
                eval_time: '61m',
                alertname: 'BackupFailed',
                exp_alerts: [
                  {
                    exp_labels: { severity: 'critical', component: 'backup', job: JOB, instance: `127.0.0.1:${CONTROL_PLANE_PORT}` },
                    exp_annotations: { summary: 'No successful backup for 24 h' },
                  },
                ],
              },
              { eval_time: '75m', alertname: 'BackupFailed', exp_alerts: [] },
            ],
          },
        ],
      };
      const file = join(work, 'backup-failed.test.yml');
      writeFileSync(file, JSON.stringify(tests));
      const out = execFileSync('promtool', ['test', 'rules', file], { encoding: 'utf8', timeout: 60_000 });
      expect(out).toMatch(/SUCCESS/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
