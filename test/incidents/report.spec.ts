/**
 * The performance report's `incidents` section (issue 14, item 7): count per severity in the
 * report's period, MTTA, MTTR, and per incident whether the response-time target (the first
 * step of its policy: P1 5 min, 5 s at this scale) was met or missed. Read from the control
 * plane's own tables: a report of this section alone never asks Prometheus (here unreachable).
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { localTime } from '../../src/modules/reports/report-period';
import { meanSeconds } from '../../src/modules/reports/sections/incidents.section';
import { withClient } from '../helpers/db';
import { incidentWorld, IncidentWorld, payload, waitUntil } from './helpers';

const PATH = '/admin/reports/performance';

/** A Prometheus that answers every query with 503, and counts them. */
async function failingPrometheus() {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req.resume();
    res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return requests;
    },
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}
const TZ = 'Asia/Jakarta';

describe('performance report: the incidents section', () => {
  let w: IncidentWorld;
  let admin: string;
  let budi: string;
  let prometheus: Awaited<ReturnType<typeof failingPrometheus>>;
  const ids: Record<string, string> = {};
  const today = () => localTime(Date.now(), TZ).date;

  before(async () => {
    prometheus = await failingPrometheus();
    w = await incidentWorld({
      inventoryPatch: (doc) => {
        doc.timezone = TZ;
        doc.urls.prometheus = prometheus.url;
      },
    });
    admin = await w.t.tokenFor(Role.Admin);
    budi = await w.t.login(w.users.budi);
  });
  after(async () => {
    await w.close();
    await prometheus.close();
  });

  const deliver = (body: unknown) =>
    w.t
      .http()
      .post('/api/v1/alerts/webhook')
      .set('authorization', `Bearer ${w.alertmanager}`)
      .send(body as object);
  const act = (id: string, verb: string, token: string) =>
    w.t.http().post(`/api/v1/incidents/${id}/${verb}`).set('authorization', `Bearer ${token}`).send({});
  const byHand = async (severity: string, title: string) => {
    const res = await w.t
      .http()
      .post('/api/v1/incidents')
      .set('authorization', `Bearer ${admin}`)
      .send({ title, severity, component: 'api' });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const fire = async (name: string, alertname: string, severity: string) => {
    const body = payload({ groupKey: `{}:{alertname="${alertname}"}`, alerts: [{ alertname, severity }] });
    const res = await deliver(body);
    expect(res.status).toBe(200);
    ids[name] = res.body.incidents.opened[0];
    return body;
  };
  const generate = (body: object) => w.t.http().post(PATH).set('authorization', `Bearer ${admin}`).send(body);
  const stored = () =>
    withClient(w.t.database, async (c) => (await c.query('SELECT count(*)::int AS n FROM performance_reports')).rows[0].n);

  it('counts per severity, MTTA, MTTR and each response target, from the database alone', async () => {
    // P1 acknowledged at once: met. P1 acknowledged after its 5 s: missed. P1 nobody answers: missed.
    await fire('fast', 'APIServiceDown', 'critical');
    expect((await act(ids.fast, 'acknowledge', budi)).status).toBe(200);
    await fire('slow', 'BackendDown', 'critical');
    await fire('silent', 'RedisDown', 'critical');
    // P2 whose alert resolves before anyone had to answer: resolved itself, not judged.
    const p2 = await fire('flap', 'HighAPILatency', 'warning');
    const resolved = payload({
      groupKey: '{}:{alertname="HighAPILatency"}',
      status: 'resolved',
      alerts: [{ alertname: 'HighAPILatency', severity: 'warning', status: 'resolved', fingerprint: p2.alerts[0].fingerprint }],
    });
    expect((await deliver(resolved)).status).toBe(200);
    // P4 resolved by a person without acknowledging: responded by the resolution, met.
    ids.p4 = await byHand('P4', 'One user cannot print');
    expect((await act(ids.p4, 'resolve', admin)).status).toBe(200);
    // P3 open, unanswered, within its 30 s: pending.
    ids.p3 = await byHand('P3', 'Slow invoice search');
    // An incident of the day before the period is not counted.
    ids.old = await byHand('P2', 'Yesterday');
    await withClient(w.t.database, (c) =>
      c.query("UPDATE incidents SET created_at = created_at - interval '2 days' WHERE id = $1", [ids.old]),
    );

    await waitUntil('the P2 resolved by its alert', async () => {
      const r = await w.t.http().get(`/api/v1/incidents/${ids.flap}`).set('authorization', `Bearer ${admin}`);
      return r.body.status === 'resolved';
    });
    await new Promise((r) => setTimeout(r, 5500));
    expect((await act(ids.slow, 'acknowledge', budi)).status).toBe(200);

    const res = await generate({ start_date: today(), end_date: today(), include: ['incidents'] });
    expect(res.status).toBe(201);
    expect(prometheus.requests).toBe(0);
    const section = res.body.sections.incidents;
    expect(res.body.include).toEqual(['incidents']);
    expect(section.countBySeverity).toEqual({ P1: 3, P2: 1, P3: 1, P4: 1 });
    expect(section.count).toBe(6);
    expect(section.incidents.map((i: { id: string }) => i.id)).not.toContain(ids.old);

    const verdicts = Object.fromEntries(section.incidents.map((i: any) => [i.id, [i.responseTarget, i.responseTargetMet]]));
    expect(verdicts).toEqual({
      [ids.fast]: ['met', true],
      [ids.slow]: ['missed', false],
      [ids.silent]: ['missed', false],
      [ids.flap]: ['resolved_before_target', null],
      [ids.p4]: ['met', true],
      [ids.p3]: ['pending', null],
    });
    expect(section.responseTarget).toEqual({ met: 2, missed: 2, pending: 1, resolvedBeforeTarget: 1 });
    expect(section.incidents.find((i: any) => i.id === ids.fast).responseTargetSeconds).toBe(5);
    expect(section.incidents.find((i: any) => i.id === ids.p4).respondedBy).toBe('resolution');

    // MTTA and MTTR: the means over the incidents acknowledged and resolved, as the database has them.
    const expected = await withClient(w.t.database, async (c) => {
      const q = await c.query('SELECT created_at, first_acknowledged_at, resolved_at FROM incidents WHERE id <> $1', [ids.old]);
      const spans = (field: 'first_acknowledged_at' | 'resolved_at') =>
        q.rows.filter((r) => r[field]).map((r) => r[field].getTime() - r.created_at.getTime());
      return { mtta: meanSeconds(spans('first_acknowledged_at')), mttr: meanSeconds(spans('resolved_at')) };
    });
    expect([section.mttaSeconds, section.mttrSeconds]).toEqual([expected.mtta, expected.mttr]);
    expect(section.acknowledged).toBe(2);
    expect(section.resolved).toBe(2);
    expect(section.bySeverity.P1).toMatchObject({ count: 3, open: 3, acknowledged: 2, responseTarget: { met: 1, missed: 2 } });
    expect(section.days).toEqual([{ date: today(), P1: 3, P2: 1, P3: 1, P4: 1, total: 6, met: 2, missed: 2 }]);
    expect(res.body.summary).toMatchObject({ incidents: 6, responseTargetsMet: 2, responseTargetsMissed: 2, mttaSeconds: expected.mtta });

    // The period that holds the older incident counts it too.
    const two = await generate({ start_date: localTime(Date.now() - 2 * 86_400_000, TZ).date, end_date: today(), include: ['incidents'] });
    expect(two.status).toBe(201);
    expect(two.body.sections.incidents.count).toBe(7);

    // CSV (one table) and HTML carry it.
    const csv = await w.t
      .http()
      .get(`${PATH}/${res.body.id}?format=csv&section=incidents&table=incidents`)
      .set('authorization', `Bearer ${admin}`);
    expect(csv.status).toBe(200);
    const lines = csv.text.trim().split(/\r?\n/);
    expect(lines[0]).toContain('id,severity,component,status,opened_at');
    expect(lines).toHaveLength(7);
    expect(lines.find((l) => l.startsWith(ids.slow))).toContain(',missed,');
    const html = await w.t.http().get(`${PATH}/${res.body.id}?format=html`).set('authorization', `Bearer ${admin}`);
    expect(html.status).toBe(200);
    expect(html.text).toContain('<h2>Incidents</h2>');
    expect(html.text).toContain('MTTA (mean time to acknowledge)');
    expect(html.text).toContain(ids.silent);
  });

  it('refuses an unknown section naming incidents among the allowed ones, and stores nothing; other sections still need Prometheus', async () => {
    const before = await stored();
    const bad = await generate({ start_date: today(), end_date: today(), include: ['incidents', 'outages'] });
    expect(bad.status).toBe(400);
    expect(bad.body.details.problems).toEqual([
      {
        field: 'include',
        problem:
          '"outages" is not a known section: each must be one of response_times, error_rates, usage_patterns, availability, backups, incidents',
      },
    ]);
    // Prometheus fails here: a report that needs it asks it and is a 503; the incidents section alone never asked it.
    expect(prometheus.requests).toBe(0);
    const withProm = await generate({ start_date: today(), end_date: today(), include: ['incidents', 'response_times'] });
    expect(withProm.status).toBe(503);
    expect(prometheus.requests).toBeGreaterThan(0);
    expect(await stored()).toBe(before);
  });
});
