import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Client } from 'pg';
import { Role } from '../../src/common/rights';
import { dbUrl, withClient } from '../helpers/db';
import { incidentWorld, IncidentWorld, payload, waitUntil } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Deliveries that arrive while a batch is being written are stored and turned into incidents
 * together by the next batch (group commit). The attack: a batch whose deliveries depend on
 * each other — alerts that fire, resolve and fire again, a group seen for the first time, a
 * retry of a delivery of the same batch — must give exactly what the same deliveries one at a
 * time give, in arrival order, each with its own answer and its own audit entry.
 */
describe('webhook deliveries written in batches', () => {
  let w: IncidentWorld;
  let admin: string;
  before(async () => {
    w = await incidentWorld();
    admin = await w.t.tokenFor(Role.Admin);
  });
  after(() => w.close());

  /** Sends at once (a supertest request is sent only when awaited) and answers the response. */
  const deliver = (body: unknown) =>
    w.t
      .http()
      .post('/api/v1/alerts/webhook')
      .set('authorization', `Bearer ${w.alertmanager}`)
      .send(body as object)
      .then((res) => res);
  const get = async (id: string) => (await w.t.http().get(`/api/v1/incidents/${id}`).set('authorization', `Bearer ${admin}`)).body;

  it('a batch of dependent deliveries gives what one at a time gives: order, incidents, timeline, answers and audit entries', async () => {
    const g = '{}:{alertname="BatchDiskFull"}';
    const h = '{}:{alertname="BatchQueueStuck"}';
    const alert = (name: string, fingerprint: string, status: 'firing' | 'resolved' = 'firing') => ({
      alertname: name,
      severity: 'warning',
      component: 'database',
      fingerprint,
      startsAt: '2026-12-07T02:00:00Z',
      status,
    });
    const d1 = payload({ groupKey: g, alerts: [alert('BatchDiskFull', 'b00000000000000a')] });
    const d2 = payload({ groupKey: g, alerts: [alert('BatchDiskFull', 'b00000000000000a'), alert('BatchDiskFull', 'b00000000000000b')] });
    const d3 = payload({
      groupKey: g,
      status: 'resolved',
      alerts: [alert('BatchDiskFull', 'b00000000000000a', 'resolved'), alert('BatchDiskFull', 'b00000000000000b', 'resolved')],
    });
    const d4 = payload({ groupKey: g, alerts: [alert('BatchDiskFull', 'b00000000000000c')] });
    const d5 = payload({ groupKey: h, alerts: [alert('BatchQueueStuck', 'b00000000000000d')] });

    // Another session holds the lock of group g: the first delivery's batch waits on it, and
    // the next deliveries queue behind it in the order they arrive.
    const blocker = new Client({ connectionString: dbUrl(w.t.database) });
    await blocker.connect();
    let answers: Awaited<ReturnType<typeof deliver>>[];
    try {
      await blocker.query('SELECT pg_advisory_lock(7340002, hashtext($1))', [g]);
      const first = deliver(d1);
      await sleep(300);
      const rest: ReturnType<typeof deliver>[] = [];
      for (const body of [d2, d3, d4, d5, d2]) {
        rest.push(deliver(body));
        await sleep(150);
      }
      // Nothing is answered while the batch waits: a 2xx only after the delivery is stored.
      const early = await withClient(
        w.t.database,
        async (c) => (await c.query('SELECT count(*)::int AS n FROM alert_notifications')).rows[0].n,
      );
      expect(early).toBe(0);
      await blocker.query('SELECT pg_advisory_unlock(7340002, hashtext($1))', [g]);
      answers = await Promise.all([first, ...rest]);
    } finally {
      await blocker.end();
    }
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const [a1, a2, a3, a4, a5, again] = answers.map((a) => a.body);
    expect(a1.stored).toBe(true);
    expect(a1.incidents.opened).toHaveLength(1);
    const inc = a1.incidents.opened[0] as string;
    expect(a2).toMatchObject({ stored: true, incidents: { opened: [], updated: [inc] } });
    expect(a3).toMatchObject({ stored: true, incidents: { opened: [], updated: [inc] } });
    expect(a4).toMatchObject({ stored: true, incidents: { opened: [], updated: [inc] } });
    expect(a5.stored).toBe(true);
    expect(a5.incidents.opened).toHaveLength(1);
    expect(a5.incidents.opened[0]).not.toBe(inc);
    // The retry of d2 within the same batch: stored once, the same notification.
    expect(again).toEqual({ stored: false, id: a2.id });

    const incident = await get(inc);
    // d3 resolved every alert (an auto-resolution was scheduled), d4 fired a new one (cancelled it).
    expect(incident.resolveAt).toBeNull();
    expect(incident.status).toBe('triggered');
    const intakeEvents = incident.timeline
      .filter((e: { type: string }) => ['opened', 'alert_fired', 'alert_resolved', 'resolve_scheduled'].includes(e.type))
      .map(
        (e: { type: string; data: { fingerprint?: string } }) =>
          `${e.type}${e.data?.fingerprint ? ` ${e.data.fingerprint.slice(-1)}` : ''}`,
      );
    expect(intakeEvents).toEqual([
      'opened',
      'alert_fired a',
      'alert_fired b',
      'alert_resolved a',
      'alert_resolved b',
      'resolve_scheduled',
      'alert_fired c',
    ]);
    const rows = await withClient(w.t.database, async (c) => ({
      alerts: (await c.query('SELECT fingerprint, status, incident_id FROM incident_alerts ORDER BY fingerprint')).rows,
      groups: (await c.query('SELECT group_key, incident_id FROM incident_alert_groups ORDER BY group_key')).rows,
      audit: (await c.query("SELECT target, outcome, actor FROM audit_entries WHERE action = 'alerts.webhook' ORDER BY id")).rows,
    }));
    expect(rows.alerts).toEqual([
      { fingerprint: 'b00000000000000a', status: 'resolved', incident_id: inc },
      { fingerprint: 'b00000000000000b', status: 'resolved', incident_id: inc },
      { fingerprint: 'b00000000000000c', status: 'firing', incident_id: inc },
      { fingerprint: 'b00000000000000d', status: 'firing', incident_id: a5.incidents.opened[0] },
    ]);
    expect(rows.groups).toEqual([
      { group_key: g, incident_id: inc },
      { group_key: h, incident_id: a5.incidents.opened[0] },
    ]);
    // One entry per answered delivery, in arrival order, each naming its notification.
    const service = rows.audit[0].actor as string;
    expect(service).toMatch(/^service:alertmanager-/);
    expect(rows.audit).toEqual(
      [a1, a2, a3, a4, a5, again].map((a) => ({ target: `alert-notification:${a.id}`, outcome: 'success', actor: service })),
    );
    // The entry names the notification (which holds the payload) and summarises the delivery.
    const parameters = await withClient(
      w.t.database,
      async (c) =>
        (await c.query('SELECT parameters FROM audit_entries WHERE target = $1 ORDER BY id LIMIT 1', [`alert-notification:${a3.id}`]))
          .rows[0].parameters,
    );
    expect(parameters).toEqual({ groupKey: g, status: 'resolved', receiver: 'on-call', alerts: 2, alertNames: { BatchDiskFull: 2 } });
    const verify = await w.t.http().get('/api/v1/audit/verify').set('authorization', `Bearer ${admin}`);
    expect(verify.body.valid).toBe(true);
  });

  it('many concurrent deliveries of interleaved groups: one incident per group, each alert once, one entry per delivery', async () => {
    const groups = 6;
    const perGroup = 5;
    const bodies = [];
    for (let j = 1; j <= perGroup; j++)
      for (let g = 0; g < groups; g++)
        bodies.push(
          payload({
            groupKey: `{}:{alertname="Storm${g}"}`,
            alerts: Array.from({ length: j }, (_, k) => ({
              alertname: `Storm${g}`,
              severity: 'warning',
              component: 'api',
              fingerprint: `c${g}${k}`.padEnd(16, '0'),
              startsAt: '2026-12-07T03:00:00Z',
            })),
          }),
        );
    const auditBefore = await withClient(
      w.t.database,
      async (c) => (await c.query('SELECT count(*)::int AS n FROM audit_entries')).rows[0].n,
    );
    const answers = await Promise.all([...bodies, ...bodies].map((b) => deliver(b)));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(answers.filter((a) => a.body.stored).length).toBe(groups * perGroup);
    const counts = await withClient(w.t.database, async (c) => ({
      incidents: (
        await c.query(
          `SELECT g.group_key, count(DISTINCT g.incident_id)::int AS n FROM incident_alert_groups g WHERE g.group_key LIKE '%Storm%' GROUP BY 1 ORDER BY 1`,
        )
      ).rows,
      alerts: (await c.query("SELECT count(*)::int AS n FROM incident_alerts WHERE fingerprint LIKE 'c%'")).rows[0].n,
      fired: (await c.query("SELECT count(*)::int AS n FROM incident_events WHERE type = 'alert_fired' AND data->>'fingerprint' LIKE 'c%'"))
        .rows[0].n,
      audit: (await c.query('SELECT count(*)::int AS n FROM audit_entries')).rows[0].n,
    }));
    expect(counts.incidents).toEqual(Array.from({ length: groups }, (_, g) => ({ group_key: `{}:{alertname="Storm${g}"}`, n: 1 })));
    expect(counts.alerts).toBe(groups * perGroup);
    expect(counts.fired).toBe(groups * perGroup);
    expect(counts.audit - auditBefore).toBe(2 * groups * perGroup);
    await waitUntil('every page sent', async () =>
      withClient(w.t.database, async (c) => (await c.query("SELECT 1 FROM incident_pages WHERE status = 'pending'")).rowCount === 0),
    );
  });
  it('an alert whose startsAt has nanoseconds (as Alertmanager sends it) resolves: stored resolved, the incident schedules its resolution', async () => {
    const g = '{}:{alertname="NanoStart"}';
    const a = {
      alertname: 'NanoStart',
      severity: 'warning',
      component: 'api',
      fingerprint: 'dd0000000000000a',
      startsAt: '2026-12-07T04:05:06.123456789Z',
    };
    const fired = await deliver(payload({ groupKey: g, alerts: [a] }));
    const id = fired.body.incidents.opened[0] as string;
    const resolved = await deliver(payload({ groupKey: g, status: 'resolved', alerts: [{ ...a, status: 'resolved' }] }));
    expect(resolved.body).toMatchObject({ stored: true, incidents: { updated: [id] } });
    const row = await withClient(
      w.t.database,
      async (c) => (await c.query('SELECT status FROM incident_alerts WHERE fingerprint = $1', [a.fingerprint])).rows,
    );
    expect(row).toEqual([{ status: 'resolved' }]);
    expect((await get(id)).resolveAt).not.toBeNull();
  });

  it('the last firing alert resolved while another replica resolves the other one: the count is read after the lock, the resolution is scheduled', async () => {
    const g = '{}:{alertname="TwoReplicas"}';
    const alert = (fingerprint: string, status: 'firing' | 'resolved' = 'firing') => ({
      alertname: 'TwoReplicas',
      severity: 'warning',
      component: 'api',
      fingerprint,
      startsAt: '2026-12-07T05:00:00Z',
      status,
    });
    const fired = await deliver(payload({ groupKey: g, alerts: [alert('ee0000000000000a'), alert('ee0000000000000b')] }));
    const id = fired.body.incidents.opened[0] as string;
    // The other replica: holds the incident (as a batch of another group does) and resolves alert a.
    const other = new Client({ connectionString: dbUrl(w.t.database) });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT id FROM incidents WHERE id = $1 FOR NO KEY UPDATE', [id]);
      await other.query("UPDATE incident_alerts SET status = 'resolved', resolved_at = now() WHERE fingerprint = 'ee0000000000000a'");
      // This replica: alert b resolved; its batch waits for the incident.
      const answer = deliver(payload({ groupKey: g, status: 'resolved', alerts: [alert('ee0000000000000b', 'resolved')] }));
      await sleep(500);
      await other.query('COMMIT');
      expect((await answer).status).toBe(200);
    } finally {
      await other.end();
    }
    const incident = await get(id);
    expect(incident.resolveAt).not.toBeNull();
    expect(incident.timeline.filter((e: { type: string }) => e.type === 'resolve_scheduled')).toHaveLength(1);
  });
});
