/**
 * Alerts through the HTTP API against the stand-in stack's real Alertmanager: the firing
 * alerts grouped with their procedures, the alert storm silence (levels by duration and by
 * matchers, dry run, real run, the alerts suppressed), removing it again, and Alertmanager's
 * webhook (authenticated, validated, stored once). Test alerts carry a unique test_run label,
 * every silence is matched on it, and everything made here is expired or resolved after.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { Alertmanager } from '../../src/integrations/alertmanager/alertmanager';
import { AmAlertInput } from '../../src/integrations/contracts';
import { withClient } from '../helpers/db';
import { startTestApp, TestApp } from '../helpers/test-app';
import { closedPort, stackInventory } from '../integrations/helpers';
import { waitFor } from '../stack/stack-helpers';

const STACK_INVENTORY = 'stack/ops.stack.yaml';
const T = { timeoutMs: 5000 };
const MINUTE = 60_000;

describe('alerts on the stand-in stack', () => {
  const am = new Alertmanager(stackInventory().urls.alertmanager);
  const run = `st${randomBytes(4).toString('hex')}`;
  const mine = { name: 'test_run', value: run };
  const filter = `test_run="${run}"`;
  let t: TestApp;
  const users = new Map<string, { username: string; token: string }>();
  const as = (who: string) => `Bearer ${users.get(who)!.token}`;
  let apiToken: { name: string; token: string };
  let viewerApiToken: string;
  const madeSilences: string[] = [];
  const started = Date.now();
  const testAlerts: AmAlertInput[] = [
    {
      labels: { alertname: 'StormTestNoise', test_run: run, instance: 'a', severity: 'warning', component: 'infrastructure' },
      annotations: { summary: 'noise a' },
    },
    {
      labels: { alertname: 'StormTestNoise', test_run: run, instance: 'b', severity: 'warning', component: 'infrastructure' },
      annotations: { summary: 'noise b' },
    },
    {
      labels: { alertname: 'StormTestNoise', test_run: run, instance: 'c', severity: 'warning', component: 'infrastructure' },
      annotations: { summary: 'noise c' },
    },
    {
      labels: { alertname: 'DiskSpaceAlmostFull', test_run: run, instance: 'a', severity: 'warning', component: 'infrastructure' },
      annotations: { summary: 'disk' },
    },
  ].map((a) => ({ ...a, startsAt: new Date(started - MINUTE).toISOString(), endsAt: new Date(started + 15 * MINUTE).toISOString() }));

  before(async () => {
    t = await startTestApp({ inventoryFile: STACK_INVENTORY });
    for (const [who, role] of [
      ['viewer', Role.Viewer],
      ['operator', Role.Operator],
      ['support', Role.Support],
      ['dba', Role.Dba],
      ['senior', Role.SeniorDev],
      ['admin', Role.Admin],
    ] as const) {
      const user = await t.createUser(role);
      users.set(who, { username: user.username, token: await t.login(user.username) });
    }
    // Alertmanager delivers as a service identity: it may deliver alerts and nothing else.
    const made = await t
      .http()
      .post('/api/v1/tokens')
      .set('Authorization', as('admin'))
      .send({ name: `alertmanager-${run}`, kind: 'service', scopes: ['alerts.receive'] });
    expect(made.status).toBe(201);
    apiToken = { name: made.body.name, token: made.body.token };
    viewerApiToken = (
      await t
        .http()
        .post('/api/v1/tokens')
        .set('Authorization', as('admin'))
        .send({ name: `viewer-${run}`, role: 'viewer' })
    ).body.token;
    await am.postAlerts(testAlerts, T);
    await waitFor(
      'the 4 test alerts to be active',
      async () => {
        const l = await am.alerts({ filter: [filter] }, T);
        return l.length === 4 && l.every((a) => a.status.state === 'active');
      },
      15_000,
      200,
    );
  });

  after(async () => {
    for (const id of madeSilences) await am.expireSilence(id, T).catch(() => undefined);
    const end = new Date().toISOString();
    await am
      .postAlerts(
        testAlerts.map((a) => ({ ...a, endsAt: end })),
        T,
      )
      .catch(() => undefined);
    await t?.close();
  });

  const get = (url: string, who = 'viewer') => t.http().get(url).set('Authorization', as(who));
  /** Requests a run; a 409 (the previous run's lock is released just after its status is written) is retried briefly. */
  const request = async (procedure: string, body: object, who = 'operator') => {
    for (let attempt = 0; ; attempt++) {
      const res = await t.http().post(`/api/v1/procedures/${procedure}/runs`).set('Authorization', as(who)).send(body);
      if (res.status !== 409 || attempt >= 50) return res;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const until = async (id: string, statuses = ['succeeded', 'failed', 'escalated', 'cancelled']) =>
    waitFor(
      `run ${id} to end`,
      async () => {
        const r = (await get(`/api/v1/runs/${id}`)).body;
        return statuses.includes(r.status) ? r : null;
      },
      60_000,
      200,
    );
  const count = async (sql: string, params: unknown[] = []) =>
    (await withClient(t.database, (c) => c.query(sql, params))).rows[0].n as number;
  const runCount = () => count('SELECT count(*)::int AS n FROM procedure_runs');
  const silenceRows = () => count('SELECT count(*)::int AS n FROM alert_silences');
  /** Ids of Alertmanager's silences that are not expired. */
  const liveSilences = async () =>
    (await am.silences(T))
      .filter((s) => s.status.state !== 'expired')
      .map((s) => s.id)
      .sort();
  const mineNow = () => am.alerts({ filter: [filter] }, T);
  const noise = [mine, { name: 'alertname', value: 'StormTestNoise' }];

  it('GET /api/v1/alerts: the firing alerts grouped by alertname with counts and their procedures (viewer; REST and GraphQL)', async () => {
    const res = await get(`/api/v1/alerts?filter=${encodeURIComponent(filter)}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ alertmanager: 'http://127.0.0.1:19093', firing: 4, active: 4, suppressed: 0 });
    expect(res.body.groups.map((g: any) => [g.alertname, g.count, g.active, g.suppressed, g.remediation])).toEqual([
      ['StormTestNoise', 3, 3, 0, null],
      ['DiskSpaceAlmostFull', 1, 1, 0, 'disk.cleanup'],
    ]);
    const disk = res.body.groups[1].alerts[0];
    expect(disk).toMatchObject({
      alertname: 'DiskSpaceAlmostFull',
      state: 'active',
      silencedBy: [],
      inhibitedBy: [],
      remediation: 'disk.cleanup',
      annotations: { summary: 'disk' },
    });
    expect(disk.labels).toEqual(testAlerts[3].labels);
    expect(disk.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(Date.parse(disk.startsAt)).toBe(started - MINUTE);
    expect(res.body.groups[0].alerts.map((a: any) => a.labels.instance).sort()).toEqual(['a', 'b', 'c']);
    // Unfiltered, the test alerts are among everything Alertmanager holds.
    const all = await get('/api/v1/alerts');
    expect(all.body.firing).toBeGreaterThanOrEqual(4);
    expect(all.body.groups.find((g: any) => g.alertname === 'StormTestNoise').count).toBeGreaterThanOrEqual(3);
    const gql = await t.gql(
      users.get('viewer')!.token,
      `query($f: [String!]) { alerts(filter: $f) { firing groups { alertname count remediation alerts { fingerprint state labels silencedBy remediation } } silences { id } } }`,
      { f: [filter] },
    );
    expect(gql.body.errors).toBeUndefined();
    expect(gql.body.data.alerts.firing).toBe(4);
    expect(gql.body.data.alerts.groups.map((g: any) => [g.alertname, g.count, g.remediation])).toEqual([
      ['StormTestNoise', 3, null],
      ['DiskSpaceAlmostFull', 1, 'disk.cleanup'],
    ]);
    expect((await t.http().get('/api/v1/alerts')).status).toBe(401);
  });

  it('bad query parameters are a 400 naming the field', async () => {
    const cases: [string, RegExp][] = [
      ['/api/v1/alerts?expired=maybe', /expired: must be true or false/],
      ['/api/v1/alerts?filter=alertname', /filter: each must be a matcher like alertname="HighCPUUsage"/],
      [`/api/v1/alerts?filter=${encodeURIComponent(filter)}&filter=${encodeURIComponent('1x="y"')}`, /filter: each must be a matcher/],
      ['/api/v1/alerts?sort=desc', /sort: is not a known field/],
      ['/api/v1/alerts/notifications?limit=0', /limit: must be at least 1/],
      ['/api/v1/alerts/notifications?status=pending', /status: must be firing or resolved/],
      ['/api/v1/alerts/notifications?cursor=bm90LWEtY3Vyc29y', /cursor: must be the nextCursor of a previous page/],
    ];
    for (const [url, message] of cases) {
      const res = await get(url);
      expect([url, res.status]).toEqual([url, 400]);
      expect(res.body.message).toMatch(message);
    }
    // A regex Alertmanager's RE2 refuses is the filter's fault too.
    const refused = await get(`/api/v1/alerts?filter=${encodeURIComponent('alertname=~"("')}`);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/^filter: Alertmanager refused it/);
  });

  it('Alertmanager unreachable: 503 naming Alertmanager and what failed (REST and GraphQL)', async () => {
    const port = await closedPort();
    const down = await startTestApp({
      inventoryFile: STACK_INVENTORY,
      inventoryPatch: (doc) => (doc.urls.alertmanager = `http://127.0.0.1:${port}`),
    });
    try {
      const token = await down.tokenFor(Role.Viewer);
      const res = await down.http().get('/api/v1/alerts').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('DEPENDENCY_UNAVAILABLE');
      expect(res.body.message).toMatch(/^the alerts cannot be listed: alertmanager: .*connection refused/);
      expect(res.body.message).toContain(`127.0.0.1:${port}`);
      expect(res.body.details).toMatchObject({ system: 'alertmanager', failure: 'unreachable' });
      const gql = await down.gql(token, '{ alerts { firing } }');
      expect(gql.body.errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
      expect(gql.body.errors[0].message).toMatch(/alertmanager/);
      // The stored notifications do not need Alertmanager.
      expect((await down.http().get('/api/v1/alerts/notifications').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    } finally {
      await down.close();
    }
  });

  it('alerts.storm dry run: plans exactly the matching alerts and the silence; nothing is created', async () => {
    const silencesBefore = await liveSilences();
    const fingerprints = (await mineNow())
      .filter((a) => a.labels.alertname === 'StormTestNoise')
      .map((a) => a.fingerprint)
      .sort();
    const res = await request('alerts.storm', { parameters: { matchers: noise, duration: '20m' }, dryRun: true });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', dryRun: true, severity: 'P3', requestedBy: users.get('operator')!.username });
    const [count, silence] = res.body.steps;
    expect(count.status).toBe('planned');
    expect(count.plan.matchers).toEqual([`test_run="${run}"`, 'alertname="StormTestNoise"']);
    expect(count.plan.wouldSilence).toBe(3);
    expect([...count.plan.fingerprints].sort()).toEqual(fingerprints);
    expect(count.plan.alerts.map((a: any) => [a.alertname, a.labels.instance, a.state]).sort()).toEqual([
      ['StormTestNoise', 'a', 'active'],
      ['StormTestNoise', 'b', 'active'],
      ['StormTestNoise', 'c', 'active'],
    ]);
    expect(count.plan.groups).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ alertname: 'StormTestNoise', matched: 3 }),
        expect.objectContaining({ alertname: 'DiskSpaceAlmostFull', matched: 0 }),
      ]),
    );
    expect(count.plan.firing).toBeGreaterThanOrEqual(4);
    expect(silence.status).toBe('planned');
    expect(silence.plan).toMatchObject({
      action: 'POST http://127.0.0.1:19093/api/v2/silences',
      createdBy: users.get('operator')!.username,
      duration: '20m',
      level: 'P3',
      refusedBecause: null,
    });
    expect(silence.plan.comment).toBe(
      `erp-ops run ${res.body.id}: alert storm: test_run="${run}", alertname="StormTestNoise" silenced for 20m`,
    );
    expect(Date.parse(silence.plan.endsAt) - Date.parse(silence.plan.startsAt)).toBe(20 * MINUTE);
    // Nothing changed.
    expect(await liveSilences()).toEqual(silencesBefore);
    expect(await silenceRows()).toBe(0);
    expect((await mineNow()).every((a) => a.status.state === 'active')).toBe(true);
  });

  let stormRun: any;
  let silenceId: string;
  it('alerts.storm real run: a silence in Alertmanager by the requesting user, linked to the run; the alerts are suppressed; recorded and audited', async () => {
    const res = await request('alerts.storm', { parameters: { matchers: noise, duration: '20m', comment: 'noisy test alerts' } });
    expect(res.status).toBe(201);
    stormRun = await until(res.body.id);
    expect([stormRun.status, stormRun.error]).toEqual(['succeeded', null]);
    const step = stormRun.steps[1];
    silenceId = step.output.silenceId;
    madeSilences.push(silenceId);
    expect(silenceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(stormRun.steps[0].output.wouldSilence).toBe(3);
    expect(step.output).toMatchObject({
      createdBy: users.get('operator')!.username,
      silenced: 3,
      verified: { silenceId, state: 'active', suppressed: 3 },
    });
    // In the real Alertmanager.
    const silence = await am.silence(silenceId, T);
    expect(silence.status.state).toBe('active');
    expect(silence.createdBy).toBe(users.get('operator')!.username);
    expect(silence.comment).toBe(`erp-ops run ${stormRun.id}: noisy test alerts`);
    expect(silence.matchers).toEqual([
      { name: 'test_run', value: run, isRegex: false, isEqual: true },
      { name: 'alertname', value: 'StormTestNoise', isRegex: false, isEqual: true },
    ]);
    const minutes = (Date.parse(silence.endsAt) - Date.parse(silence.startsAt)) / MINUTE;
    expect(minutes).toBeGreaterThan(19.9);
    expect(minutes).toBeLessThanOrEqual(20.01);
    const alerts = await mineNow();
    for (const a of alerts) {
      if (a.labels.alertname === 'StormTestNoise') expect(a.status).toMatchObject({ state: 'suppressed', silencedBy: [silenceId] });
      else expect(a.status.state).toBe('active');
    }
    // GET /api/v1/alerts shows them suppressed and marks the silence as the control plane's.
    const overview = (await get(`/api/v1/alerts?filter=${encodeURIComponent(filter)}`)).body;
    expect(overview).toMatchObject({ firing: 4, active: 1, suppressed: 3 });
    expect(overview.groups[0]).toMatchObject({ alertname: 'StormTestNoise', suppressed: 3 });
    const listed = overview.silences.find((s: any) => s.id === silenceId);
    expect(listed).toMatchObject({
      state: 'active',
      createdByControlPlane: true,
      runId: stormRun.id,
      createdBy: users.get('operator')!.username,
      matchersText: `test_run="${run}", alertname="StormTestNoise"`,
    });
    expect(overview.silences.filter((s: any) => s.createdByControlPlane === false).every((s: any) => s.runId === null)).toBe(true);
    // Recorded: the run, the silence row, the audit entry.
    const row = (
      await withClient(t.database, (c) =>
        c.query('SELECT run_id, created_by, comment, expired_at FROM alert_silences WHERE silence_id = $1', [silenceId]),
      )
    ).rows[0];
    expect(row).toEqual({ run_id: stormRun.id, created_by: users.get('operator')!.username, comment: silence.comment, expired_at: null });
    const runRow = (
      await withClient(t.database, (c) =>
        c.query('SELECT procedure_id, requested_by, status, severity FROM procedure_runs WHERE id = $1', [stormRun.id]),
      )
    ).rows[0];
    expect(runRow).toEqual({
      procedure_id: 'alerts.storm',
      requested_by: users.get('operator')!.username,
      status: 'succeeded',
      severity: 'P3',
    });
    const audit = (
      await withClient(t.database, (c) =>
        c.query(
          "SELECT actor, outcome FROM audit_entries WHERE action = 'procedure.request' AND target = 'procedure:alerts.storm' AND outcome = 'success'",
        ),
      )
    ).rows;
    expect(audit.map((a: any) => a.actor)).toEqual([users.get('operator')!.username, users.get('operator')!.username]);
  });

  it('a silence longer than 30 minutes is P2: an operator gets 403 naming whom to call, a senior_dev runs it; 30 minutes is still P3', async () => {
    const disk = [mine, { name: 'alertname', value: 'DiskSpaceAlmostFull' }];
    const runsBefore = await runCount();
    const silencesBefore = await liveSilences();
    for (const duration of ['45m', 45, '1h', '2h30m']) {
      const refused = await request('alerts.storm', { parameters: { matchers: disk, duration } });
      expect([duration, refused.status]).toEqual([duration, 403]);
      expect(refused.body.details).toMatchObject({ procedure: 'alerts.storm', level: 'P2', domain: 'system', yourRole: 'operator' });
      expect(refused.body.details.escalateTo.length).toBeGreaterThan(0);
      expect(refused.body.details.rolesWithRight).toEqual(['senior_dev', 'dba', 'admin']);
      expect(refused.body.message).toMatch(/with these parameters it is a P2 system action/);
    }
    expect(await runCount()).toBe(runsBefore);
    expect(await liveSilences()).toEqual(silencesBefore);
    const denials = await count(
      "SELECT count(*)::int AS n FROM audit_entries WHERE action = 'procedure.request' AND target = 'procedure:alerts.storm' AND outcome = 'denied' AND error_code = 'FORBIDDEN'",
    );
    expect(denials).toBe(4);
    const boundary = await request('alerts.storm', { parameters: { matchers: disk, duration: '30m' }, dryRun: true });
    expect([boundary.status, boundary.body.severity]).toEqual([201, 'P3']);

    const res = await request('alerts.storm', { parameters: { matchers: disk, duration: '45m' } }, 'senior');
    expect(res.status).toBe(201);
    expect(res.body.severity).toBe('P2');
    const done = await until(res.body.id);
    expect([done.status, done.error]).toEqual(['succeeded', null]);
    const id = done.steps[1].output.silenceId;
    madeSilences.push(id);
    const silence = await am.silence(id, T);
    expect(silence.createdBy).toBe(users.get('senior')!.username);
    expect(Math.round((Date.parse(silence.endsAt) - Date.parse(silence.startsAt)) / MINUTE)).toBe(45);
    expect((await mineNow()).find((a) => a.labels.alertname === 'DiskSpaceAlmostFull')!.status).toMatchObject({
      state: 'suppressed',
      silencedBy: [id],
    });

    // Removed again by the storm run's id.
    const undo = await request('alerts.unsilence', { parameters: { runId: done.id } });
    expect(undo.status).toBe(201);
    const undone = await until(undo.body.id);
    expect([undone.status, undone.error]).toEqual(['succeeded', null]);
    expect(undone.steps[0].output).toMatchObject({ silenceId: id, previousState: 'active', verified: { state: 'expired' } });
    expect((await am.silence(id, T)).status.state).toBe('expired');
  });

  it('matchers that would silence everything are P1: 403 for every role below P1 (with whom to call); senior_dev and admin may (dry run)', async () => {
    const runsBefore = await runCount();
    const silencesBefore = await liveSilences();
    const everything = [
      [{ name: 'alertname', value: '.*', isRegex: true }],
      [{ name: 'alertname', value: '.+', isRegex: true }],
      [{ name: 'severity', value: '(?s).*', isRegex: true }],
      [{ name: 'alertname', value: 'StormTestNoise', isEqual: false }],
      // x="" matches every alert without the label x; a character class or an optional first
      // character narrows nothing; a pathological regex is judged by its text, never run.
      [
        { name: 'alertname', value: '.+', isRegex: true },
        { name: 'zz', value: '' },
      ],
      [{ name: 'alertname', value: '[A-Z].*', isRegex: true }],
      [{ name: 'alertname', value: 'H?.*', isRegex: true }],
      [{ name: 'alertname', value: '(?:(?:a|a)*b)|.*', isRegex: true }],
      [],
    ];
    for (const matchers of everything) {
      for (const who of ['operator', 'support', 'dba']) {
        const res = await request('alerts.storm', { parameters: { matchers, duration: '10m' } }, who);
        const where = `${JSON.stringify(matchers)} as ${who}`;
        expect([where, res.status, res.body.details?.level]).toEqual([where, 403, 'P1']);
        expect(res.body.details.escalateTo.length).toBeGreaterThan(0);
        expect(res.body.details.rolesWithRight).toEqual(['senior_dev', 'admin']);
      }
      // A viewer may not request runs at all.
      expect((await request('alerts.storm', { parameters: { matchers, duration: '10m' } }, 'viewer')).status).toBe(403);
    }
    expect(await runCount()).toBe(runsBefore);
    expect(await liveSilences()).toEqual(silencesBefore);
    // P1 roles may; the plan says what it would silence (and that Alertmanager refuses ".*" alone).
    for (const who of ['senior', 'admin']) {
      const res = await request('alerts.storm', { parameters: { matchers: everything[0], duration: '10m' }, dryRun: true }, who);
      expect([who, res.status, res.body.status, res.body.severity]).toEqual([who, 201, 'succeeded', 'P1']);
      expect(res.body.steps[0].plan.wouldSilence).toBe(res.body.steps[0].plan.firing);
      expect(res.body.steps[0].plan.wouldSilence).toBeGreaterThanOrEqual(4);
      expect(res.body.steps[1].plan.refusedBecause).toMatch(/matches the empty string.*alertname=~"\.\+"/);
    }
    expect(await liveSilences()).toEqual(silencesBefore);
    // A match-all regex next to a narrowing matcher is an ordinary P3 silence.
    const narrowed = await request('alerts.storm', {
      parameters: { matchers: [mine, { name: 'alertname', value: '.*', isRegex: true }], duration: '10m' },
      dryRun: true,
    });
    expect([narrowed.status, narrowed.body.severity, narrowed.body.steps[0].plan.wouldSilence]).toEqual([201, 'P3', 4]);
  });

  it('invalid parameters: 400 naming the field, no run, no silence, no audit entry', async () => {
    const runsBefore = await runCount();
    const silencesBefore = await liveSilences();
    const rowsBefore = await silenceRows();
    const auditBefore = await count('SELECT count(*)::int AS n FROM audit_entries');
    const cases: [object, RegExp][] = [
      [{ matchers: noise, duration: '45x' }, /parameters\.duration: must be a duration like 30m, 2h/],
      [{ matchers: noise, duration: '25h' }, /parameters\.duration: must be a duration/],
      [{ matchers: noise, duration: 0 }, /parameters\.duration: must be a duration/],
      [{ matchers: noise, duration: 2.5 }, /parameters\.duration: must be a duration/],
      [{ matchers: noise }, /parameters\.duration: must be a duration/],
      [{ matchers: [{ name: '1bad', value: 'x' }], duration: '10m' }, /parameters\.matchers\.0\.name: must be a label name/],
      [
        { matchers: [mine, { name: 'alertname', value: '(', isRegex: true }], duration: '10m' },
        /parameters\.matchers\.1\.value: is not a regular expression/,
      ],
      [
        { matchers: [{ name: 'alertname', value: 'x', isRegex: 'yes' }], duration: '10m' },
        /parameters\.matchers\.0\.isRegex: must be true or false/,
      ],
      [{ matchers: [{ name: 'alertname', value: 'x', op: '=' }], duration: '10m' }, /parameters\.matchers\.0: unknown parameter\(s\) op/],
      [{ matchers: 'alertname=x', duration: '10m' }, /parameters\.matchers: must be a list of matchers/],
      [{ duration: '10m' }, /parameters\.matchers: must be a list of matchers/],
      [{ matchers: noise, duration: '10m', createdBy: 'someone-else' }, /parameters: unknown parameter\(s\) createdBy/],
    ];
    for (const [parameters, message] of cases) {
      const res = await request('alerts.storm', { parameters });
      const where = JSON.stringify(parameters);
      expect([where, res.status]).toEqual([where, 400]);
      expect([where, res.body.message]).toEqual([where, expect.stringMatching(message)]);
    }
    const unsilenceCases: [object, RegExp][] = [
      [{}, /parameters\.silenceId: give either silenceId/],
      [{ silenceId: randomUUID(), runId: randomUUID() }, /parameters\.silenceId: give either silenceId/],
      [{ silenceId: 'abc' }, /parameters\.silenceId: must be a silence id/],
      [{ runId: 12 }, /parameters\.runId: must be the id/],
    ];
    for (const [parameters, message] of unsilenceCases) {
      const res = await request('alerts.unsilence', { parameters });
      expect([JSON.stringify(parameters), res.status]).toEqual([JSON.stringify(parameters), 400]);
      expect(res.body.message).toMatch(message);
    }
    expect(await runCount()).toBe(runsBefore);
    expect(await liveSilences()).toEqual(silencesBefore);
    expect(await silenceRows()).toBe(rowsBefore);
    expect(await count('SELECT count(*)::int AS n FROM audit_entries')).toBe(auditBefore);
  });

  it("alerts.unsilence expires the storm's silence (dry run first); the alerts are active again; unknown silences fail the run", async () => {
    const plan = await request('alerts.unsilence', { parameters: { silenceId }, dryRun: true });
    expect(plan.status).toBe(201);
    expect(plan.body.steps[0].plan).toMatchObject({
      action: `DELETE http://127.0.0.1:19093/api/v2/silence/${silenceId}`,
      silenceId,
      state: 'active',
      createdByControlPlane: true,
      stormRunId: stormRun.id,
      createdBy: users.get('operator')!.username,
      alreadyExpired: false,
    });
    expect((await am.silence(silenceId, T)).status.state).toBe('active');

    const res = await request('alerts.unsilence', { parameters: { silenceId } }, 'support');
    const done = await until(res.body.id);
    expect([done.status, done.error]).toEqual(['succeeded', null]);
    expect(done.steps[0].output).toMatchObject({
      silenceId,
      previousState: 'active',
      alreadyExpired: false,
      verified: { state: 'expired' },
    });
    expect((await am.silence(silenceId, T)).status.state).toBe('expired');
    await waitFor(
      'the noise alerts to be active again',
      async () => {
        const a = (await mineNow()).filter((x) => x.labels.alertname === 'StormTestNoise');
        return a.length === 3 && a.every((x) => x.status.state === 'active' && x.status.silencedBy.length === 0);
      },
      10_000,
      200,
    );
    const row = (
      await withClient(t.database, (c) =>
        c.query('SELECT expired_at, expired_by_run FROM alert_silences WHERE silence_id = $1', [silenceId]),
      )
    ).rows[0];
    expect(row.expired_by_run).toBe(done.id);
    expect(row.expired_at).toBeInstanceOf(Date);
    // Listed only with ?expired=true, still marked as the control plane's.
    expect((await get('/api/v1/alerts')).body.silences.some((s: any) => s.id === silenceId)).toBe(false);
    const withExpired = (await get('/api/v1/alerts?expired=true')).body.silences.find((s: any) => s.id === silenceId);
    expect(withExpired).toMatchObject({ state: 'expired', createdByControlPlane: true, runId: stormRun.id });

    // Again: nothing left to expire, the run says so.
    const again = await until((await request('alerts.unsilence', { parameters: { silenceId } })).body.id);
    expect([again.status, again.steps[0].output.alreadyExpired]).toEqual(['succeeded', true]);
    // A silence Alertmanager does not know, and a run that made none: the run fails naming it.
    const unknown = randomUUID();
    const missing = await until((await request('alerts.unsilence', { parameters: { silenceId: unknown } })).body.id);
    expect(missing.status).toBe('failed');
    expect(missing.error).toContain(`silence ${unknown} does not exist`);
    const noSilence = await until((await request('alerts.unsilence', { parameters: { runId: plan.body.id } })).body.id);
    expect(noSilence.status).toBe('failed');
    expect(noSilence.error).toContain(`run ${plan.body.id} created no silence`);
  });

  // ---- webhook ---------------------------------------------------------------------------------
  const payload = (status: 'firing' | 'resolved', alerts = testAlerts.slice(0, 3).concat(testAlerts[3])) => ({
    receiver: 'default',
    status,
    alerts: alerts.map((a, i) => ({
      status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: '2026-11-29T23:35:24.123456789Z',
      endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-11-29T23:55:24Z',
      generatorURL: 'http://127.0.0.1:19090/graph?g0.expr=up',
      fingerprint: `${run.slice(2)}0000000${i}`.slice(0, 16),
    })),
    groupLabels: { alertname: 'StormTestNoise', component: 'infrastructure' },
    commonLabels: { test_run: run, severity: 'warning', component: 'infrastructure' },
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:19093',
    version: '4',
    groupKey: `{}:{alertname="StormTestNoise", component="infrastructure", test_run="${run}"}`,
    truncatedAlerts: 0,
  });
  const hook = (body: unknown, token: string | null = apiToken.token) => {
    const req = t.http().post('/api/v1/alerts/webhook').set('Content-Type', 'application/json');
    if (token) req.set('Authorization', `Bearer ${token}`);
    return req.send(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const notifications = () => count('SELECT count(*)::int AS n FROM alert_notifications');

  let firingId: string;
  it('webhook: an Alertmanager notification is stored once, however often it is delivered; resolved is a new one', async () => {
    const first = await hook(payload('firing'));
    expect(first.status).toBe(200);
    // A new alert group opens an incident in the same transaction (issue 14); a repeat opens nothing.
    expect(first.body).toEqual({
      stored: true,
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      incidents: { opened: [expect.stringMatching(/^INC-\d{8}-\d{3}$/)], updated: [] },
    });
    firingId = first.body.id;
    const retried = await hook(payload('firing'));
    expect(retried.body).toEqual({ stored: false, id: firingId });
    // The same alerts in another order are the same notification.
    const shuffled = payload('firing');
    shuffled.alerts.reverse();
    expect((await hook(shuffled)).body).toEqual({ stored: false, id: firingId });
    expect(await notifications()).toBe(1);
    const resolved = await hook(payload('resolved'));
    expect(resolved.body.stored).toBe(true);
    expect(await notifications()).toBe(2);

    const row = (await withClient(t.database, (c) => c.query('SELECT * FROM alert_notifications WHERE id = $1', [firingId]))).rows[0];
    expect(row).toMatchObject({
      status: 'firing',
      receiver: 'default',
      group_key: payload('firing').groupKey,
      group_labels: { alertname: 'StormTestNoise', component: 'infrastructure' },
      alert_count: 4,
      alert_names: { StormTestNoise: 3, DiskSpaceAlmostFull: 1 },
      received_by: `service:${apiToken.name}`,
      truncated_alerts: 0,
      external_url: 'http://127.0.0.1:19093',
    });
    expect(row.received_at).toBeInstanceOf(Date);
    expect(row.alerts.map((a: any) => [a.alertname, a.status, a.remediation])).toEqual([
      ['StormTestNoise', 'firing', null],
      ['StormTestNoise', 'firing', null],
      ['StormTestNoise', 'firing', null],
      ['DiskSpaceAlmostFull', 'firing', 'disk.cleanup'],
    ]);
    expect(row.alerts[3]).toMatchObject({
      labels: testAlerts[3].labels,
      endsAt: '0001-01-01T00:00:00Z',
      startsAt: '2026-11-29T23:35:24.123456789Z',
    });
    const audit = (
      await withClient(t.database, (c) =>
        c.query("SELECT actor, outcome, target FROM audit_entries WHERE action = 'alerts.webhook' ORDER BY id"),
      )
    ).rows;
    expect(audit).toHaveLength(4);
    expect(audit[0]).toEqual({ actor: `service:${apiToken.name}`, outcome: 'success', target: `alert-notification:${firingId}` });
  });

  it("webhook: no token is 401, a viewer's token 403 (it cannot inject alerts); nothing stored", async () => {
    const before = await notifications();
    const other = payload('firing', [testAlerts[0]]);
    const none = await hook(other, null);
    expect(none.status).toBe(401);
    const viewer = await hook(other, users.get('viewer')!.token);
    expect(viewer.status).toBe(403);
    expect(viewer.body.details).toMatchObject({ requiredRight: 'alerts.receive', yourRole: 'viewer' });
    expect((await hook(other, viewerApiToken)).status).toBe(403);
    expect((await hook(other, 'opsk_not-a-real-token-at-all-000000000000000000')).status).toBe(401);
    expect(await notifications()).toBe(before);
  });

  it('webhook: a bad payload is a 400 naming the field; nothing stored', async () => {
    const before = await notifications();
    const auditBefore = await count("SELECT count(*)::int AS n FROM audit_entries WHERE action = 'alerts.webhook'");
    const bad = (change: (p: any) => void) => {
      const p: any = payload('firing', [testAlerts[0]]);
      change(p);
      return p;
    };
    const cases: [unknown, RegExp][] = [
      [bad((p) => (p.version = '3')), /version: must be "4"/],
      [bad((p) => delete p.alerts[0].fingerprint), /alerts\.0\.fingerprint: must be the alert's fingerprint/],
      [bad((p) => (p.alerts[0].fingerprint = 'zz; DROP')), /alerts\.0\.fingerprint: must be the alert's fingerprint/],
      [bad((p) => (p.status = 'pending')), /^status: must be firing or resolved/],
      [bad((p) => (p.alerts = [])), /alerts: must hold at least one alert/],
      [bad((p) => (p.alerts[0].startsAt = 'yesterday')), /alerts\.0\.startsAt: must be an RFC 3339 time/],
      [bad((p) => (p.alerts[0].labels = { alertname: 5 })), /alerts\.0\.labels\.alertname: label values must be strings/],
      [bad((p) => delete p.groupKey), /groupKey: must be a string/],
      [bad((p) => (p.truncatedAlerts = -1)), /truncatedAlerts: must be a whole number/],
      [
        bad((p) => (p.alerts[0].labels = { ...p.alerts[0].labels, instance: 'a\u0000b' })),
        /alerts\.0\.labels\.instance: must not contain NUL characters/,
      ],
      [bad((p) => (p.groupKey = 'g\u0000')), /must not contain NUL characters/],
      ['[1, 2]', /body: must be a JSON object/],
      ['{"version": "4",', /body: is not valid JSON/],
    ];
    for (const [body, message] of cases) {
      const res = await hook(body);
      const where = JSON.stringify(body).slice(0, 80);
      expect([where, res.status]).toEqual([where, 400]);
      expect([where, res.body.message]).toEqual([where, expect.stringMatching(message)]);
    }
    expect(await notifications()).toBe(before);
    expect(await count("SELECT count(*)::int AS n FROM audit_entries WHERE action = 'alerts.webhook'")).toBe(auditBefore);
  });

  it('GET /api/v1/alerts/notifications: newest first, cursor pages, filters; GraphQL alertNotifications', async () => {
    const first = await get('/api/v1/alerts/notifications?limit=1');
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(1);
    expect(first.body.items[0]).toMatchObject({
      status: 'resolved',
      receiver: 'default',
      alertCount: 4,
      alertNames: { StormTestNoise: 3, DiskSpaceAlmostFull: 1 },
      receivedBy: `service:${apiToken.name}`,
    });
    expect(first.body.items[0].alerts[3]).toMatchObject({
      alertname: 'DiskSpaceAlmostFull',
      status: 'resolved',
      remediation: 'disk.cleanup',
      endsAt: '2026-11-29T23:55:24Z',
    });
    expect(first.body.nextCursor).toBeTruthy();
    const second = await get(`/api/v1/alerts/notifications?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((n: any) => [n.id, n.status])).toEqual([[firingId, 'firing']]);
    expect(second.body.nextCursor).toBeNull();
    expect((await get('/api/v1/alerts/notifications?status=firing')).body.items.map((n: any) => n.id)).toEqual([firingId]);
    expect((await get('/api/v1/alerts/notifications?alertname=DiskSpaceAlmostFull')).body.items).toHaveLength(2);
    expect((await get('/api/v1/alerts/notifications?alertname=NoSuchAlert')).body.items).toEqual([]);
    const gql = await t.gql(
      users.get('viewer')!.token,
      '{ alertNotifications(limit: 5, status: "firing") { items { id status alertNames alerts { alertname remediation } } nextCursor } }',
    );
    expect(gql.body.errors).toBeUndefined();
    expect(gql.body.data.alertNotifications.items).toEqual([
      {
        id: firingId,
        status: 'firing',
        alertNames: { StormTestNoise: 3, DiskSpaceAlmostFull: 1 },
        alerts: [
          { alertname: 'StormTestNoise', remediation: null },
          { alertname: 'StormTestNoise', remediation: null },
          { alertname: 'StormTestNoise', remediation: null },
          { alertname: 'DiskSpaceAlmostFull', remediation: 'disk.cleanup' },
        ],
      },
    ]);
    expect((await t.http().get('/api/v1/alerts/notifications')).status).toBe(401);
    // The same alerts firing again later (a new incident: a new startsAt) are a new notification.
    const before = await notifications();
    const refired = payload('firing');
    for (const a of refired.alerts) a.startsAt = '2026-11-30T01:00:00Z';
    expect((await hook(refired)).body.stored).toBe(true);
    expect((await hook(refired)).body.stored).toBe(false);
    expect(await notifications()).toBe(before + 1);
  });
});
