/**
 * Alertmanager's real deliveries, end to end, with no payload posted by the test: the stand-in
 * stack's Alertmanager (its own configuration, stack/alertmanager/alertmanager.yml) sends its
 * webhooks to 127.0.0.1:3100 with the token it reads from its credentials file (a host
 * directory up.sh mounts into erp-alertmanager alone). Here a control plane under test answers
 * on 3100, its service identity's token is made with the command up.sh uses and written to that
 * file (the file's own content is put back after), and alerts reach Alertmanager the real ways:
 * through its API v2, and from Prometheus when the ERP backend is stopped.
 *
 * Between Alertmanager and the control plane, a relay on 127.0.0.1:3100 passes every request
 * and answer through unchanged and notes each one (sender, Authorization, group, answer), so
 * that a refusal is tied to the notification it refused (Alertmanager also retries other
 * tests' groups to whatever answers on 3100).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { projectRoot } from '../../src/common/paths';
import { Role } from '../../src/common/rights';
import { Alertmanager } from '../../src/integrations/alertmanager/alertmanager';
import { AmAlertInput } from '../../src/integrations/contracts';
import { newApiToken } from '../../src/modules/auth/tokens.service';
import { withClient } from '../helpers/db';
import { ChatSink, MailSink, startChatSink, startMailSink } from '../helpers/notify-sinks';
import { startTestApp, TestApp } from '../helpers/test-app';
import { incidentsSection, SCALE } from '../incidents/helpers';
import { stackInventory } from '../integrations/helpers';
import { docker, get, inspect, logsSince, PORTS, restoreService, waitFor } from '../stack/stack-helpers';

const STACK_INVENTORY = 'stack/ops.stack.yaml';
const CONTROL_PLANE_PORT = 3100;
/** Where alertmanager.yml's credentials_file points, inside erp-alertmanager. */
const SECRETS_MOUNT = '/run/secrets';
const TOKEN_IN_CONTAINER = `${SECRETS_MOUNT}/controlplane-token`;
const T = { timeoutMs: 5000 };
const MINUTE = 60_000;

/** One request Alertmanager made to 127.0.0.1:3100, and the control plane's answer. */
interface Delivery {
  at: number;
  userAgent: string | undefined;
  authorization: string | undefined;
  payload: any;
  status: number;
  answer: any;
}

function parse(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The relay on 127.0.0.1:3100 in front of the control plane under test. */
async function startRelay(
  target: string,
): Promise<{ deliveries: Delivery[]; drop: { when?: (payload: any) => boolean }; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  // A delivery `drop.when` picks is answered 401 and never reaches the control plane (a lost notification).
  const drop: { when?: (payload: any) => boolean } = {};
  const { port } = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const payload = parse(body.toString('utf8'));
      if (drop.when?.(payload)) {
        deliveries.push({
          at: Date.now(),
          userAgent: req.headers['user-agent'],
          authorization: req.headers.authorization,
          payload,
          status: 401,
          answer: 'dropped',
        });
        res.writeHead(401, { 'content-type': 'text/plain' }).end('dropped by the relay');
        return;
      }
      const forward = http.request(
        { host: '127.0.0.1', port: Number(port), method: req.method, path: req.url, headers: req.headers, agent: false },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            const text = Buffer.concat(parts);
            deliveries.push({
              at: Date.now(),
              userAgent: req.headers['user-agent'],
              authorization: req.headers.authorization,
              payload: parse(body.toString('utf8')),
              status: answer.statusCode ?? 0,
              answer: parse(text.toString('utf8')),
            });
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(text);
          });
        },
      );
      forward.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`127.0.0.1:${CONTROL_PLANE_PORT} is taken (a control plane running there?): this test answers Alertmanager there`)
          : error,
      ),
    );
    server.listen(CONTROL_PLANE_PORT, '127.0.0.1', resolve);
  });
  return {
    deliveries,
    drop,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Replaces a file in one rename (Alertmanager reads it on every delivery). */
function replaceFile(file: string, content: string, mode = 0o600): void {
  const staged = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(staged, content, { mode, flag: 'wx' });
  renameSync(staged, file);
}

describe("Alertmanager's deliveries reach the control plane with its token", () => {
  const am = new Alertmanager(stackInventory().urls.alertmanager);
  const run = `am${randomBytes(4).toString('hex')}`;
  let t: TestApp;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let tokenFile: string;
  let original: { content: string; mode: number } | null = null;
  let token: string;
  let viewer: string;
  let mail: MailSink;
  let chat: ChatSink;
  const people = { sari: `sari${run}`, budi: `budi${run}`, dewi: `dewi${run}` };
  const pushed: AmAlertInput[] = [];
  let backendStopped = false;

  const notificationsOf = async (alertname: string) => {
    const res = await t
      .http()
      .get(`/api/v1/alerts/notifications?alertname=${encodeURIComponent(alertname)}`)
      .set('Authorization', `Bearer ${viewer}`);
    expect(res.status).toBe(200);
    return res.body.items as any[];
  };
  const deliveriesOf = (alertname: string) => relay.deliveries.filter((d) => d.payload?.groupLabels?.alertname === alertname);
  const push = async (alertname: string) => {
    const now = Date.now();
    const alert: AmAlertInput = {
      labels: { alertname, component: 'delivery-test', severity: 'warning', test_run: run },
      annotations: { summary: `delivery test ${run}` },
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + 15 * MINUTE).toISOString(),
    };
    pushed.push(alert);
    await am.postAlerts([alert], T);
  };

  before(async () => {
    const mount = ((await inspect('erp-alertmanager')).Mounts as { Source: string; Destination: string }[]).find(
      (m) => m.Destination === SECRETS_MOUNT,
    );
    if (!mount)
      throw new Error(`erp-alertmanager has no ${SECRETS_MOUNT} mount: bring the stack up with this checkout's scripts/stack/up.sh`);
    const config = (await get(PORTS.alertmanager, '/api/v2/status')).json().config.original as string;
    if (!config.includes(`credentials_file: ${TOKEN_IN_CONTAINER}`))
      throw new Error(
        `the running Alertmanager's configuration does not read ${TOKEN_IN_CONTAINER}: reload it (POST /-/reload) or run up.sh`,
      );
    tokenFile = join(mount.Source, 'controlplane-token');
    if (existsSync(tokenFile)) original = { content: readFileSync(tokenFile, 'utf8'), mode: statSync(tokenFile).mode & 0o777 };

    mail = await startMailSink();
    chat = await startChatSink();
    // Incidents with their timers (a minute lasts a second) and real mail and chat receivers.
    t = await startTestApp({
      inventoryFile: STACK_INVENTORY,
      inventoryPatch: incidentsSection({ chat: chat.url, smtp: mail.url }, people),
      env: { OPS_INCIDENT_TIMERS: 'true', OPS_INCIDENT_TIME_SCALE: String(SCALE), OPS_INCIDENT_CHECK_MS: '500' },
    });
    await t.createUser(Role.Support, people.sari);
    await t.createUser(Role.SeniorDev, people.budi);
    await t.createUser(Role.Dba, people.dewi);
    relay = await startRelay(t.url);
    viewer = await t.tokenFor(Role.Viewer);
    // The command up.sh runs, against this control plane's database, into Alertmanager's file.
    const cli = spawnSync(
      process.execPath,
      [join(projectRoot(), 'dist/src/cli/user.js'), 'service-token', 'alertmanager', '--scopes', 'alerts.receive', '--out', tokenFile],
      { env: { ...process.env, ...t.env, OPS_INVENTORY: join(projectRoot(), STACK_INVENTORY) }, encoding: 'utf8', timeout: 90_000 },
    );
    if (cli.status !== 0) throw new Error(`service-token failed (${cli.status}): ${cli.stderr}`);
    token = readFileSync(tokenFile, 'utf8');
  });

  after(async () => {
    if (backendStopped) await docker('POST', '/containers/erp-backend/start');
    const end = new Date().toISOString();
    await am
      .postAlerts(
        pushed.map((a) => ({ ...a, endsAt: end })),
        T,
      )
      .catch(() => undefined);
    if (tokenFile) {
      if (original) replaceFile(tokenFile, original.content, original.mode);
      else rmSync(tokenFile, { force: true });
    }
    await relay?.close();
    await t?.close();
    await mail?.close();
    await chat?.close();
    if (backendStopped) await restoreService('backend', PORTS.backend, '/health');
  });

  it("the token is Alertmanager's alone: its directory (0700) is mounted read-only into erp-alertmanager, into no other service; the file is 0600", async () => {
    const dir = join(tokenFile, '..');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const containers = (
      await docker<any[]>('GET', '/containers/json?all=1&filters=' + encodeURIComponent('{"label":["erp-stack.owned=true"]}'))
    ).body;
    expect(containers.length).toBeGreaterThanOrEqual(10);
    const holders = [];
    for (const c of containers) {
      const mounts = (await inspect(c.Id)).Mounts as { Type: string; Source: string; Destination: string; RW: boolean }[];
      const covers = (source: string) => source === dir || dir.startsWith(source.endsWith('/') ? source : `${source}/`);
      // A tmpfs has no host source.
      for (const m of mounts) if (m.Type !== 'tmpfs' && covers(m.Source)) holders.push([c.Names[0], m.Destination, m.RW]);
    }
    // The node exporter, beside the compose project, reads the host's whole root (read-only) as host agents do.
    expect(holders.sort()).toEqual([
      ['/erp-alertmanager', SECRETS_MOUNT, false],
      ['/erp-node-exporter', '/host', false],
    ]);
  });

  it('an alert pushed to Alertmanager is delivered by Alertmanager with the token from its file and stored as the service identity', async () => {
    const alertname = `AmDeliveryStored_${run}`;
    await push(alertname);
    const delivery = await waitFor(
      `Alertmanager to deliver ${alertname}`,
      async () => deliveriesOf(alertname).find((d) => d.status === 200),
      2 * MINUTE,
      250,
    );
    expect(delivery.userAgent).toMatch(/^Alertmanager\//);
    expect(delivery.authorization).toBe(`Bearer ${token}`);
    expect(delivery.payload).toMatchObject({
      version: '4',
      status: 'firing',
      receiver: 'default',
      groupLabels: { alertname, component: 'delivery-test' },
    });
    // A new alert group: an incident (a warning is P3) opened in the same transaction.
    expect(delivery.answer).toEqual({
      stored: true,
      id: expect.any(String),
      incidents: { opened: [expect.stringMatching(/^INC-\d{8}-\d{3}$/)], updated: [] },
    });

    const stored = await notificationsOf(alertname);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      id: delivery.answer.id,
      receivedBy: 'service:alertmanager',
      status: 'firing',
      receiver: 'default',
      externalURL: 'http://127.0.0.1:19093',
      alertNames: { [alertname]: 1 },
    });
    expect(stored[0].alerts[0]).toMatchObject({ status: 'firing', labels: pushed.at(-1)!.labels });
    const audit = await withClient(t.database, (c) =>
      c.query("SELECT actor, actor_role, outcome FROM audit_entries WHERE action = 'alerts.webhook' AND target = $1", [
        `alert-notification:${delivery.answer.id}`,
      ]),
    );
    expect(audit.rows).toEqual([{ actor: 'service:alertmanager', actor_role: 'service', outcome: 'success' }]);
  });

  it("a wrong token in the file: Alertmanager's delivery is refused (401) and nothing is stored; the right token again and its next try is stored", async () => {
    const alertname = `AmDeliveryRefused_${run}`;
    const wrong = newApiToken();
    replaceFile(tokenFile, wrong);
    const since = Math.floor(Date.now() / 1000) - 1;
    await push(alertname);
    const refused = await waitFor(`Alertmanager to try ${alertname}`, async () => deliveriesOf(alertname)[0], 2 * MINUTE, 250);
    expect(refused.userAgent).toMatch(/^Alertmanager\//);
    expect(refused.authorization).toBe(`Bearer ${wrong}`);
    expect(refused.status).toBe(401);
    expect(refused.answer.message).toBe('API token refused: unknown API token');
    expect(await notificationsOf(alertname)).toEqual([]);
    expect(
      (
        await withClient(t.database, (c) =>
          c.query('SELECT count(*)::int AS n FROM alert_notifications WHERE alert_names ? $1', [alertname]),
        )
      ).rows[0].n,
    ).toBe(0);
    // Alertmanager itself saw the refusal.
    await waitFor(
      'Alertmanager to log the 401',
      async () => (await logsSince('erp-alertmanager', since)).includes('unexpected status code 401'),
      30_000,
      500,
    );

    replaceFile(tokenFile, token);
    const delivered = await waitFor(
      `Alertmanager to deliver ${alertname} again`,
      async () => deliveriesOf(alertname).find((d) => d.status === 200),
      3 * MINUTE,
      250,
    );
    expect(delivered.authorization).toBe(`Bearer ${token}`);
    expect(
      deliveriesOf(alertname)
        .filter((d) => d.status === 401)
        .every((d) => d.authorization === `Bearer ${wrong}`),
    ).toBe(true);
    const stored = await notificationsOf(alertname);
    expect(stored.map((n) => [n.id, n.receivedBy, n.status])).toEqual([[delivered.answer.id, 'service:alertmanager', 'firing']]);
  });

  it('a real fault: the ERP backend stopped fires APIServiceDown in Prometheus; Alertmanager delivers it and its resolution, stored as the service identity', async () => {
    const stoppedAt = Date.now();
    const stop = await docker('POST', '/containers/erp-backend/stop?t=10');
    expect(stop.status).toBe(204);
    backendStopped = true;
    const ours = (d: Delivery, status: 'firing' | 'resolved') =>
      d.status === 200 &&
      (d.payload.alerts as any[]).some(
        (a) => a.labels.alertname === 'APIServiceDown' && a.status === status && Date.parse(a.startsAt) >= stoppedAt - 1000,
      );
    // up == 0 at the next scrape (15 s), firing after `for: 1m` (rules every 30 s), then group_wait.
    const fired = await waitFor(
      'APIServiceDown delivered firing',
      async () => deliveriesOf('APIServiceDown').find((d) => ours(d, 'firing')),
      4 * MINUTE,
      500,
    );
    expect(fired.userAgent).toMatch(/^Alertmanager\//);
    expect(fired.authorization).toBe(`Bearer ${token}`);
    expect(fired.payload).toMatchObject({ receiver: 'on-call', groupLabels: { alertname: 'APIServiceDown', component: 'api' } });
    const firing = (await notificationsOf('APIServiceDown')).find((n) => n.id === fired.answer.id);
    expect(firing).toMatchObject({ receivedBy: 'service:alertmanager', status: 'firing', receiver: 'on-call' });
    const alert = firing.alerts.find((a: any) => a.alertname === 'APIServiceDown' && a.status === 'firing');
    expect(alert).toMatchObject({
      labels: expect.objectContaining({ alertname: 'APIServiceDown', severity: 'critical', component: 'api', job: 'erp-backend' }),
      remediation: 'backend.crash-loop',
    });
    expect(alert.generatorURL).toMatch(/:19090\/graph\?g0\.expr=up%7Bjob%3D%22erp-backend%22%7D/);

    // One incident for the group: P1 (critical), component api, the runbook's procedure and its dry-run plan.
    expect(fired.answer.incidents.opened).toHaveLength(1);
    const id = fired.answer.incidents.opened[0] as string;
    const incidentOf = async () => (await t.http().get(`/api/v1/incidents/${id}`).set('Authorization', `Bearer ${viewer}`)).body;
    const opened = await waitFor(
      'the dry-run plan',
      async () => {
        const i = await incidentOf();
        return i.plan && i.plan.status !== 'computing' && i;
      },
      MINUTE,
      250,
    );
    expect(opened).toMatchObject({
      severity: 'P1',
      component: 'api',
      status: 'triggered',
      source: 'alert',
      suggestedProcedure: 'backend.crash-loop',
    });
    expect(opened.alerts.map((a: any) => a.fingerprint)).toContain(alert.fingerprint);
    expect(opened.plan).toMatchObject({ procedureId: 'backend.crash-loop', runId: expect.any(String) });
    expect(opened.plan.steps.length).toBeGreaterThan(0);
    // P1's contacts: the senior dev on call (chat and mail) and the DBA (mail), each with their acknowledge link.
    const link = new RegExp(`http://127\\.0\\.0\\.1:3100/api/v1/incidents/ack/[0-9a-f-]{36}\\.[A-Za-z0-9_-]+`);
    const mails = await waitFor(
      'mails of the incident',
      async () => {
        const ofIt = mail.messages.filter((m) => m.subject?.includes(id));
        return ofIt.length >= 2 && ofIt;
      },
      MINUTE,
      250,
    );
    expect(
      mails
        .slice(0, 2)
        .map((m) => (m.to as { text: string }).text)
        .sort(),
    ).toEqual(['budi@erp.test', 'dewi@erp.test']);
    for (const m of mails) expect(m.text).toMatch(link);
    const chats = await waitFor(
      'a chat message of the incident',
      async () => {
        const ofIt = chat.bodies.filter((b) => String(b.text).includes(id));
        return ofIt.length >= 1 && ofIt;
      },
      MINUTE,
      250,
    );
    expect(chats[0].text).toContain('@budi');
    expect(chats[0].text).toMatch(link);

    // The fix, started from the incident: its suggested procedure (backend.crash-loop: stop,
    // start, watch until healthy), a real run by the senior dev on call. Its request and its
    // end go into the incident's timeline.
    const budi = await t.login(people.budi);
    const started = await t
      .http()
      .post(`/api/v1/incidents/${id}/runs`)
      .set('Authorization', `Bearer ${budi}`)
      .send({ parameters: { pauseSeconds: 1 } });
    expect([started.status, started.body.message]).toEqual([202, undefined]);
    const runId = started.body.run.id as string;
    expect(started.body).toEqual({
      incident: id,
      run: { id: runId, procedureId: 'backend.crash-loop', status: 'queued', dryRun: false },
    });
    const fixed = await waitFor(
      'the run to end in the timeline',
      async () => {
        const i = await incidentOf();
        return i.timeline.some((e: any) => e.type === 'run_ended') && i;
      },
      3 * MINUTE,
      500,
    );
    const runEvents = (fixed.timeline as any[]).filter((e) => e.type === 'run_requested' || e.type === 'run_ended');
    expect(runEvents.map((e) => [e.type, e.actor, e.data])).toEqual([
      ['run_requested', people.budi, { runId, procedureId: 'backend.crash-loop', dryRun: false, status: 'queued' }],
      ['run_ended', null, { runId, procedureId: 'backend.crash-loop', status: 'succeeded', error: null }],
    ]);
    expect(runEvents[1].message).toBe(`Run ${runId} of backend.crash-loop ended succeeded`);
    expect(fixed.runs).toEqual([
      expect.objectContaining({ run_id: runId, procedure_id: 'backend.crash-loop', requested_by: people.budi, ended_status: 'succeeded' }),
    ]);
    const ran = (await t.http().get(`/api/v1/runs/${runId}`).set('Authorization', `Bearer ${viewer}`)).body;
    expect(ran).toMatchObject({ status: 'succeeded', requestedBy: people.budi, error: null });
    expect(ran.steps.find((s: any) => s.stepId === 'watch').output).toEqual(
      expect.objectContaining({ state: 'running', health: 'healthy', healthUrlStatus: 200 }),
    );
    await restoreService('backend', PORTS.backend, '/health');
    backendStopped = false;
    const resolved = await waitFor(
      'APIServiceDown delivered resolved',
      async () =>
        deliveriesOf('APIServiceDown').find(
          (d) => ours(d, 'resolved') && d.payload.alerts.some((a: any) => a.fingerprint === alert.fingerprint),
        ),
      4 * MINUTE,
      500,
    );
    expect(resolved.authorization).toBe(`Bearer ${token}`);
    const stored = (await notificationsOf('APIServiceDown')).find((n) => n.id === resolved.answer.id);
    expect(stored).toMatchObject({ receivedBy: 'service:alertmanager', status: 'resolved' });
    expect(stored.alerts.find((a: any) => a.fingerprint === alert.fingerprint)).toMatchObject({
      status: 'resolved',
      startsAt: alert.startsAt,
    });
    // Every alert of the incident resolved (by this notification, or by the reconciliation if it
    // came first): the incident resolves itself after the grace, with its whole timeline.
    const done = await waitFor(
      'the incident to resolve itself',
      async () => {
        const i = await incidentOf();
        return i.status === 'resolved' && i;
      },
      MINUTE,
      250,
    );
    expect(done.resolvedBy).toBe('alertmanager');
    const types = (done.timeline as { type: string }[]).map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'opened',
        'alert_fired',
        'notification_sent',
        'plan_computed',
        'run_requested',
        'run_ended',
        'alert_resolved',
        'resolve_scheduled',
        'resolved',
      ]),
    );
    expect(types.indexOf('opened')).toBeLessThan(types.indexOf('alert_resolved'));
    expect(types.indexOf('resolve_scheduled')).toBeLessThan(types.indexOf('resolved'));
  });

  it("a lost resolved notification: the reconciliation against Alertmanager's alerts resolves the incident", async () => {
    const alertname = `AmReconcile_${run}`;
    await push(alertname);
    const fired = await waitFor(
      `Alertmanager to deliver ${alertname}`,
      async () => deliveriesOf(alertname).find((d) => d.status === 200),
      2 * MINUTE,
      250,
    );
    const id = fired.answer.incidents.opened[0] as string;
    expect(id).toMatch(/^INC-/);
    // From here every resolved notification of this group is lost on its way.
    relay.drop.when = (payload) => payload?.groupLabels?.alertname === alertname && payload.status === 'resolved';
    const alert = pushed.at(-1)!;
    await am.postAlerts([{ ...alert, endsAt: new Date().toISOString() }], T);
    const done = await waitFor(
      'the incident to resolve through the reconciliation',
      async () => {
        const i = (await t.http().get(`/api/v1/incidents/${id}`).set('Authorization', `Bearer ${viewer}`)).body;
        return i.status === 'resolved' && i;
      },
      2 * MINUTE,
      500,
    );
    const reconciled = (done.timeline as any[]).filter((e) => e.type === 'alert_resolved');
    expect(reconciled).toHaveLength(1);
    expect(reconciled[0].data).toMatchObject({ reconciled: true });
    expect(reconciled[0].message).toMatch(/reconciled: Alertmanager no longer has it/);
    // No resolved notification of the group reached the control plane.
    expect(deliveriesOf(alertname).filter((d) => d.payload.status === 'resolved' && d.status === 200)).toEqual([]);
  });
});
