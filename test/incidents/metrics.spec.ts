/**
 * The incidents' metrics on GET /metrics (issue 14, item 7): ops_incidents_open{severity},
 * the time-to-acknowledge and time-to-resolve histograms, escalations and pages, read after
 * real deliveries, acknowledgements (REST and link), resolutions (by hand and by the alerts
 * resolving) and an escalation. Counts and labels only, never timings. Attacks: retries,
 * malformed deliveries, refused and repeated acknowledgements and resolutions change no
 * figure; a second replica that changed nothing shows the same open incidents.
 */
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { withClient } from '../helpers/db';
import { startTestApp, TestApp } from '../helpers/test-app';
import { incidentsSection, incidentWorld, IncidentWorld, payload, waitUntil } from './helpers';

type Samples = Map<string, number>;

/** The exposition's samples by `name{labels}` (labels sorted), e.g. ops_incidents_open{severity="P1"}. */
function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = (m[2] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    samples.set(labels ? `${m[1]}{${labels}}` : m[1], Number(m[3]));
  }
  return samples;
}

const SEVERITIES = ['P1', 'P2', 'P3', 'P4'] as const;

describe('incident metrics on /metrics', () => {
  let w: IncidentWorld;
  let admin: string;
  let tokens: { sari: string; budi: string; dewi: string };
  let replica: TestApp | undefined;
  const ids: Record<string, string> = {};

  before(async () => {
    w = await incidentWorld();
    admin = await w.t.tokenFor(Role.Admin);
    tokens = { sari: await w.t.login(w.users.sari), budi: await w.t.login(w.users.budi), dewi: await w.t.login(w.users.dewi) };
  });
  after(async () => {
    await replica?.close();
    await w.close();
  });

  const scrape = async (app: TestApp = w.t) => {
    const res = await app.scrape();
    expect(res.status).toBe(200);
    return parseMetrics(res.text);
  };
  const open = (s: Samples) => Object.fromEntries(SEVERITIES.map((sev) => [sev, s.get(`ops_incidents_open{severity="${sev}"}`)]));
  const countOf = (s: Samples, histogram: 'acknowledge' | 'resolve', severity: string) =>
    s.get(`ops_incident_time_to_${histogram}_seconds_count{severity="${severity}"}`) ?? 0;
  const deliver = (body: unknown, token = w.alertmanager) =>
    w.t
      .http()
      .post('/api/v1/alerts/webhook')
      .set('authorization', `Bearer ${token}`)
      .send(body as object);
  const act = (id: string, verb: string, token: string, body: object = {}) =>
    w.t.http().post(`/api/v1/incidents/${id}/${verb}`).set('authorization', `Bearer ${token}`).send(body);
  const bodies = {
    p1: payload({ groupKey: '{}:{alertname="APIServiceDown"}', alerts: [{ alertname: 'APIServiceDown', severity: 'critical' }] }),
    p2: payload({ groupKey: '{}:{alertname="HighAPILatency"}', alerts: [{ alertname: 'HighAPILatency', severity: 'warning' }] }),
    p3: payload({ groupKey: '{}:{alertname="DiskFilling"}', alerts: [{ alertname: 'DiskFilling', severity: 'warning' }] }),
    escalating: payload({
      groupKey: '{}:{alertname="DatabaseDown"}',
      alerts: [{ alertname: 'DatabaseDown', severity: 'critical', component: 'database' }],
    }),
  };

  it('counts the open incidents per severity from deliveries and by hand; retries and bad deliveries change nothing', async () => {
    const before = await scrape();
    expect(open(before)).toEqual({ P1: 0, P2: 0, P3: 0, P4: 0 });
    for (const sev of SEVERITIES) {
      expect(countOf(before, 'acknowledge', sev)).toBe(0);
      expect(countOf(before, 'resolve', sev)).toBe(0);
    }
    for (const [name, body] of Object.entries(bodies)) {
      const res = await deliver(body);
      expect(res.status).toBe(200);
      expect(res.body.incidents.opened).toHaveLength(1);
      ids[name] = res.body.incidents.opened[0];
    }
    const manual = await w.t
      .http()
      .post('/api/v1/incidents')
      .set('authorization', `Bearer ${admin}`)
      .send({ title: 'One user cannot print invoices', severity: 'P4', component: 'api' });
    expect(manual.status).toBe(201);
    ids.p4 = manual.body.id;
    expect(open(await scrape())).toEqual({ P1: 2, P2: 1, P3: 1, P4: 1 });

    // Alertmanager's retries, a malformed and an unauthenticated delivery: the same figures.
    const retries = await Promise.all(Object.values(bodies).map((b) => deliver(b)));
    expect(retries.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await deliver({ ...bodies.p3, groupKey: 'other', alerts: [{ status: 'firing' }] })).status).toBe(400);
    expect((await deliver(payload({ alerts: [{ alertname: 'Unseen', severity: 'critical' }] }), 'not-a-token')).status).toBe(401);
    expect(open(await scrape())).toEqual({ P1: 2, P2: 1, P3: 1, P4: 1 });
  });

  it('observes time to acknowledge once per incident, by REST and by link; refused acknowledgements count nothing', async () => {
    // Support may not acknowledge a P1: 403, nothing observed.
    expect((await act(ids.p1, 'acknowledge', tokens.sari)).status).toBe(403);
    expect(countOf(await scrape(), 'acknowledge', 'P1')).toBe(0);

    expect((await act(ids.p3, 'acknowledge', tokens.sari)).status).toBe(200);
    // A second acknowledgement of the same incident is a 409 and is not observed again.
    expect((await act(ids.p3, 'acknowledge', tokens.sari)).status).toBe(409);
    expect((await act(ids.p1, 'acknowledge', tokens.budi)).status).toBe(200);

    // A new P1 acknowledged through the one-click link in budi's mail (the link lives 5 s here).
    const linked = await deliver(
      payload({ groupKey: '{}:{alertname="QueueStuck"}', alerts: [{ alertname: 'QueueStuck', severity: 'critical' }] }),
    );
    ids.linked = linked.body.incidents.opened[0];
    const mail = await waitUntil('the P1 mail to budi', async () =>
      w.mail.messages.find((m) => m.subject?.includes(ids.linked) && (m.to as { text: string }).text === 'budi@erp.test'),
    );
    const link = /\/api\/v1\/incidents\/ack\/[^\s]+/.exec(mail.text ?? '')![0];
    const byLink = await w.t.http().post(link);
    expect([byLink.status, byLink.body.message]).toEqual([200, undefined]);
    expect((await w.t.http().post(link)).status).toBe(400);

    const s = await scrape();
    expect({ P1: countOf(s, 'acknowledge', 'P1'), P2: countOf(s, 'acknowledge', 'P2'), P3: countOf(s, 'acknowledge', 'P3') }).toEqual({
      P1: 2,
      P2: 0,
      P3: 1,
    });
    // Acknowledged incidents are still open.
    expect(open(s)).toEqual({ P1: 3, P2: 1, P3: 1, P4: 1 });
    // Every observation sits in a bucket: +Inf holds the count.
    expect(s.get('ops_incident_time_to_acknowledge_seconds_bucket{le="+Inf",severity="P1"}')).toBe(2);
  });

  it('a replica that changed nothing shows the same open incidents (read from the database at each scrape)', async () => {
    replica = await startTestApp({
      shareWith: w.t,
      inventoryPatch: incidentsSection({ chat: w.chat.url, smtp: w.mail.url }, w.users),
      env: { OPS_INCIDENT_TIME_SCALE: '60' },
    });
    expect(open(await scrape(replica))).toEqual({ P1: 3, P2: 1, P3: 1, P4: 1 });
  });

  it('observes time to resolve by hand and when the alerts resolve; the open gauge follows', async () => {
    expect((await act(ids.p3, 'resolve', tokens.sari, { note: 'disk cleaned' })).status).toBe(200);
    expect((await act(ids.p3, 'resolve', tokens.sari)).status).toBe(409);
    expect((await act(ids.p4, 'resolve', admin)).status).toBe(200);
    // Support may not resolve a P2: refused, not observed.
    expect((await act(ids.p2, 'resolve', tokens.sari)).status).toBe(403);
    // The P2's alert resolves: the incident resolves itself after the grace (2 s at this scale).
    const resolved = payload({
      groupKey: '{}:{alertname="HighAPILatency"}',
      status: 'resolved',
      alerts: [{ alertname: 'HighAPILatency', severity: 'warning', status: 'resolved', fingerprint: bodies.p2.alerts[0].fingerprint }],
    });
    expect((await deliver(resolved)).status).toBe(200);
    await waitUntil('the P2 resolved by its alert', async () => countOf(await scrape(), 'resolve', 'P2') === 1);

    const s = await scrape();
    expect(Object.fromEntries(SEVERITIES.map((sev) => [sev, countOf(s, 'resolve', sev)]))).toEqual({ P1: 0, P2: 1, P3: 1, P4: 1 });
    expect(open(s)).toEqual({ P1: 3, P2: 0, P3: 0, P4: 0 });
    expect(open(await scrape(replica))).toEqual({ P1: 3, P2: 0, P3: 0, P4: 0 });
  });

  it('counts each escalation fired (not the end of the chain), and each page sent per channel as the sinks received them', async () => {
    // Nobody acknowledges the database P1: its chain pages again every 5 s (the P1 response time
    // at this scale), twice, then runs out; running out pages nobody and is not an escalation.
    const eventsOf = (type: string, incident?: string) =>
      withClient(w.t.database, async (c) => {
        const rows = await c.query(
          `SELECT i.severity, count(*)::int AS n FROM incident_events e JOIN incidents i ON i.id = e.incident_id
           WHERE e.type = $1 AND ($2::text IS NULL OR i.id = $2) GROUP BY 1`,
          [type, incident ?? null],
        );
        return Object.fromEntries(rows.rows.map((r) => [r.severity, r.n])) as Record<string, number>;
      });
    await waitUntil(
      'the chain of the unacknowledged P1 run out',
      async () => (await eventsOf('chain_exhausted', ids.escalating)).P1 === 1,
      40_000,
    );
    for (const id of [ids.escalating, ids.p1, ids.linked]) expect((await act(id, 'resolve', admin)).status).toBe(200);
    expect((await eventsOf('escalated', ids.escalating)).P1).toBe(2);
    // The counters equal the escalations in the timelines, per severity (they lag them by a query
    // at most). Both replicas run the engine and each counts the escalations it fired.
    const escalated = await eventsOf('escalated');
    const scrapeBoth = async () => [await scrape(), await scrape(replica!)];
    const counted = (both: Samples[]) =>
      Object.fromEntries(
        SEVERITIES.map((sev) => [sev, both.reduce((n, s) => n + (s.get(`ops_incident_escalations_total{severity="${sev}"}`) ?? 0), 0)]),
      );
    const expected = Object.fromEntries(SEVERITIES.map((sev) => [sev, escalated[sev] ?? 0]));
    await waitUntil('the escalation counters', async () => JSON.stringify(counted(await scrapeBoth())) === JSON.stringify(expected));
    // Every page has left the outbox (sent, or cancelled by the resolutions).
    await waitUntil('no page pending', () =>
      withClient(w.t.database, async (c) => (await c.query("SELECT 1 FROM incident_pages WHERE status = 'pending'")).rowCount === 0),
    );
    // Pages too: whichever replica claims a page from the outbox sends and counts it.
    const both = await scrapeBoth();
    const [s] = both;
    expect(counted(both)).toEqual(expected);
    const sent = (channel: string) =>
      both.reduce((n, samples) => n + (samples.get(`ops_incident_pages_total{channel="${channel}",outcome="sent"}`) ?? 0), 0);
    expect(sent('email')).toBe(w.mail.messages.length);
    expect(sent('chat')).toBe(w.chat.bodies.length);
    // (Compared with the sinks, not the outbox rows: a page sent while a resolution cancels it
    // stays "cancelled" in the outbox, though the mail went out and is counted.)
    expect(w.mail.messages.length).toBeGreaterThan(0);
    expect(both.map((samples) => samples.get('ops_incident_pages_total{channel="email",outcome="failed"}') ?? 0)).toEqual([0, 0]);
    expect(open(s)).toEqual({ P1: 0, P2: 0, P3: 0, P4: 0 });
    expect(countOf(s, 'resolve', 'P1')).toBe(3);
  });
});
