import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { incidentWorld, IncidentWorld, payload, waitUntil } from './helpers';

describe('incidents from Alertmanager deliveries', () => {
  let w: IncidentWorld;
  let admin: string;
  before(async () => {
    w = await incidentWorld();
    admin = await w.t.tokenFor(Role.Admin);
  });
  after(async () => {
    if (process.env.DEBUG_LOGS) console.log(w.t.logs.filter((l) => /incident|Incident|EscalationEngine|OnCall/.test(l)).join(''));
    await w.close();
  });

  const deliver = (body: unknown, token = w.alertmanager) =>
    w.t
      .http()
      .post('/api/v1/alerts/webhook')
      .set('authorization', `Bearer ${token}`)
      .send(body as object);
  const get = async (id: string) => (await w.t.http().get(`/api/v1/incidents/${id}`).set('authorization', `Bearer ${admin}`)).body;

  it('opens one incident per alert group: id, severity from labels, component, suggested procedure, plan, and pages with a link', async () => {
    const body = payload({ alerts: [{ alertname: 'APIServiceDown', severity: 'critical', component: 'api' }] });
    const first = await deliver(body);
    expect(first.status).toBe(200);
    expect(first.body.incidents.opened).toHaveLength(1);
    const id = first.body.incidents.opened[0];
    expect(id).toMatch(/^INC-\d{8}-\d{3}$/);
    // Alertmanager's retries and HA peers: the same delivery again changes nothing.
    const again = await Promise.all(Array.from({ length: 10 }, () => deliver(body)));
    expect(again.map((r) => r.status)).toEqual(Array(10).fill(200));
    const list = await w.t.http().get('/api/v1/incidents').set('authorization', `Bearer ${admin}`);
    expect(list.body.items.map((i: { id: string }) => i.id)).toEqual([id]);
    const incident = await get(id);
    expect(incident).toMatchObject({
      severity: 'P1',
      component: 'api',
      status: 'triggered',
      suggestedProcedure: 'backend.crash-loop',
      source: 'alert',
    });
    // P1 pages the senior dev on call (budi) and the DBA (dewi): chat for budi, mail for both.

    const mails = await waitUntil('two mails', async () => w.mail.messages.length >= 2 && w.mail.messages);
    expect(mails.map((m) => (m.to as { text: string }).text).sort()).toEqual(['budi@erp.test', 'dewi@erp.test']);
    expect(mails[0].text).toMatch(/http:\/\/127\.0\.0\.1:3100\/api\/v1\/incidents\/ack\/[0-9a-f-]{36}\.[A-Za-z0-9_-]+/);
    await waitUntil('a chat message', async () => w.chat.bodies.length >= 1);
    expect(w.chat.bodies[0].text).toContain('@budi');
    const planned = await waitUntil('the plan', async () => {
      const i = await get(id);
      return i.plan?.status && i.plan.status !== 'computing' && i;
    });
    expect(planned.plan.procedureId).toBe('backend.crash-loop');
    expect(planned.timeline.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['opened', 'alert_fired', 'notification_sent', 'plan_computed']),
    );
  });
});
