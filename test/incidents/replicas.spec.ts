import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { TestApp } from '../helpers/test-app';
import { incidentWorld, IncidentWorld, payload, waitUntil } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 14, "Timers that cannot be lost or doubled", with two replicas sharing PostgreSQL and
 * Redis, both running the timers: one notification per person and step, one incident per
 * alert group when Alertmanager's HA peers deliver the same group to both at once, and ids
 * that never collide.
 */
describe('two replicas running the incident timers', () => {
  let w: IncidentWorld;
  let b: TestApp;
  let admin: string;

  before(async () => {
    w = await incidentWorld({
      inventoryPatch: (doc) => {
        doc.escalation.P1.responseMinutes = 2;
        doc.escalation.P2.responseMinutes = 2;
        doc.incidents.policies = { P2: { steps: ['P2', 'P1'], repeat: 1 } };
        doc.incidents.statusUpdateMinutes = { P1: 60, P2: 3 };
      },
    });
    b = await w.replica();
    admin = await w.t.tokenFor(Role.Admin);
  });
  after(async () => {
    if (process.env.DEBUG_LOGS) console.log([...w.t.logs, ...b.logs].filter((l) => /incident|Incident|EscalationEngine/.test(l)).join(''));
    await w.close();
  });

  const replicas = () => [w.t, b];
  const deliver = (app: TestApp, body: unknown) =>
    app
      .http()
      .post('/api/v1/alerts/webhook')
      .set('authorization', `Bearer ${w.alertmanager}`)
      .send(body as object);
  const detail = async (id: string) => (await w.t.http().get(`/api/v1/incidents/${id}`).set('authorization', `Bearer ${admin}`)).body;

  it('the same delivery to both replicas at once opens one incident; its chain pages each person once per step and reminds once per due update', async () => {
    const body = payload({ groupKey: 'ha-peers', alerts: [{ alertname: 'HighErrorRate', severity: 'warning', component: 'api' }] });
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => deliver(replicas()[i % 2], body)));
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
    // One delivery stored (and handed to the incidents); the others are duplicates that change nothing.
    expect(answers.filter((r) => r.body.stored === true)).toHaveLength(1);
    const opened = answers.flatMap((r) => (r.body.incidents?.opened ?? []) as string[]);
    expect(opened).toHaveLength(1);
    const id = opened[0];
    // The HA peers' own copies differ (their externalURL) and come at once too: still that one incident.
    const copies = await Promise.all(
      Array.from({ length: 6 }, (_, i) => deliver(replicas()[i % 2], { ...body, externalURL: `http://127.0.0.1:1909${i}` })),
    );
    expect(copies.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(copies.flatMap((r) => (r.body.incidents?.opened ?? []) as string[])).toEqual([]);
    const list = await w.t.http().get('/api/v1/incidents').set('authorization', `Bearer ${admin}`);
    expect(list.body.items.map((i: { id: string }) => i.id)).toEqual([id]);
    expect((await detail(id)).alerts).toHaveLength(1);

    await waitUntil(
      'the chain to run out',
      async () => (await detail(id)).timeline.some((e: { type: string }) => e.type === 'chain_exhausted'),
      60_000,
    );
    await waitUntil('a status reminder sent', async () =>
      (await detail(id)).notifications.some(
        (p: { reason: string; status: string }) => p.reason.startsWith('status:') && p.status === 'sent',
      ),
    );
    const resolved = await b.http().post(`/api/v1/incidents/${id}/resolve`).set('authorization', `Bearer ${admin}`).send({});
    expect(resolved.status).toBe(200);
    await waitUntil('the outbox to drain', async () =>
      (await detail(id)).notifications.every((p: { status: string }) => p.status !== 'pending'),
    );
    await sleep(2000);

    const d = await detail(id);
    const types = d.timeline.map((e: { type: string }) => e.type);
    expect(types.filter((t: string) => ['opened', 'escalated', 'chain_exhausted'].includes(t))).toEqual([
      'opened',
      'escalated',
      'escalated',
      'escalated',
      'chain_exhausted',
    ]);
    // Per person and step: one mail (and one chat message for budi), whichever replica sent it.
    const mails = w.mail.messages.filter((m) => m.subject?.includes(id) && /paged as level/.test(m.text ?? ''));
    const perPerson = (to: string) =>
      mails.filter((m) => (m.to as { text: string }).text === to).map((m) => /paged as level (P\d)/.exec(m.text!)![1]);
    expect(perPerson('budi@erp.test')).toEqual(['P2', 'P1', 'P2', 'P1']);
    expect(perPerson('dewi@erp.test')).toEqual(['P1', 'P1']);
    expect(mails).toHaveLength(6);
    const chats = w.chat.bodies.filter((c) => String(c.text).includes(id) && /paged as level/.test(String(c.text)));
    expect(chats.map((c) => /paged as level (P\d)/.exec(c.text)![1])).toEqual(['P2', 'P1', 'P2', 'P1']);
    const sent = d.timeline.filter((e: { type: string }) => e.type === 'notification_sent');
    const keys = sent.map(
      (e: { data: { reason: string; person: string; channel: string } }) => `${e.data.reason}/${e.data.person}/${e.data.channel}`,
    );
    expect(new Set(keys).size).toBe(keys.length);
    // Each due status update: one reminder per person and channel, and the mails match the reminders sent.
    const due = d.timeline.filter((e: { type: string }) => e.type === 'status_update_due').length;
    const reminders = d.notifications.filter((p: { reason: string }) => p.reason.startsWith('status:'));
    expect(new Set(reminders.map((p: { reason: string }) => p.reason)).size).toBe(due);
    const reminderMails = w.mail.messages.filter((m) => m.subject?.includes(id) && /Status update due/.test(m.text ?? ''));
    expect(reminderMails).toHaveLength(
      reminders.filter((p: { channel: string; status: string }) => p.channel === 'email' && p.status === 'sent').length,
    );
  });

  it('50 incidents opened at once through both replicas (REST and webhook) get 50 different ids', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const app = replicas()[i % 2];
        return i < 25
          ? app
              .http()
              .post('/api/v1/incidents')
              .set('authorization', `Bearer ${admin}`)
              .send({ title: `Load ${i}`, severity: 'P4', component: 'api' })
          : deliver(app, payload({ groupKey: `load-${i}`, alerts: [{ alertname: `Load${i}`, severity: 'info', component: 'api' }] }));
      }),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([...Array(25).fill(200), ...Array(25).fill(201)]);
    const ids = answers.map((r) => (r.status === 201 ? r.body.id : r.body.incidents.opened[0]) as string);
    expect(ids.every((id) => /^INC-\d{8}-\d{3}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(50);
    const listed: string[] = [];
    for (let cursor: string | null = null; ;) {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await w.t
        .http()
        .get('/api/v1/incidents')
        .query({ severity: 'P4', limit: 100, ...(cursor ? { cursor } : {}) })
        .set('authorization', `Bearer ${admin}`);
      listed.push(...page.body.items.map((i: { id: string }) => i.id));
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    expect(listed.sort()).toEqual([...ids].sort());
  });
});
