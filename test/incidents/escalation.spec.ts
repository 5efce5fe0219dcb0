import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { incidentWorld, IncidentWorld, payload, waitUntil } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Event {
  id: number;
  type: string;
  actor: string | null;
  message: string;
  data: Record<string, any>;
}
interface PageView {
  reason: string;
  person: string;
  channel: string;
  status: string;
  attempts: number;
}

/**
 * Issue 14, "Timers that cannot be lost or doubled": the chain pages each step at its response
 * time, repeats, ends; an acknowledgement stops it until it lapses; status and report reminders
 * go out once each. Scale 60 and short response times (P1 2 s, P2 3 s, P3 4 s).
 */
describe('escalation timers', () => {
  let w: IncidentWorld;
  let admin: string;
  let budi: string;
  /** Mail to dewi is refused (451) while this is true: her page stays pending. */
  let refuseDewi = false;

  before(async () => {
    w = await incidentWorld({
      refuseMail: (to) => refuseDewi && to === 'dewi@erp.test',
      inventoryPatch: (doc) => {
        doc.escalation.P1.responseMinutes = 2;
        doc.escalation.P2.responseMinutes = 3;
        doc.escalation.P3.responseMinutes = 4;
        Object.assign(doc.incidents, {
          p4ResponseMinutes: 1,
          policies: { P1: { steps: ['P1'], repeat: 2 }, P2: { steps: ['P2', 'P1'], repeat: 1 }, P3: { steps: ['P3'], repeat: 0 } },
          ackTimeoutMinutes: 8,
          statusUpdateMinutes: { P1: 3, P2: 30 },
          reportDueHours: 0.05,
        });
      },
    });
    admin = await w.t.tokenFor(Role.Admin);
    budi = await w.t.login(w.users.budi);
  });
  after(async () => {
    if (process.env.DEBUG_LOGS) console.log(w.t.logs.filter((l) => /incident|Incident|EscalationEngine/.test(l)).join(''));
    await w.close();
  });

  const deliver = async (body: unknown) => {
    const res = await w.t
      .http()
      .post('/api/v1/alerts/webhook')
      .set('authorization', `Bearer ${w.alertmanager}`)
      .send(body as object);
    expect(res.status).toBe(200);
    return res.body.incidents.opened[0] as string;
  };
  const detail = async (id: string) => (await w.t.http().get(`/api/v1/incidents/${id}`).set('authorization', `Bearer ${admin}`)).body;
  const events = async (id: string): Promise<Event[]> => (await detail(id)).timeline;
  const pages = async (id: string): Promise<PageView[]> => (await detail(id)).notifications;
  const eventsOf = async (id: string, ...types: string[]) => (await events(id)).filter((e) => types.includes(e.type));
  /** The pages (not reminders) mailed about an incident: [recipient, level paged] in arrival order. */
  const pageMails = (id: string) =>
    w.mail.messages
      .filter((m) => m.subject?.includes(id) && /paged as level/.test(m.text ?? ''))
      .map((m) => [(m.to as { text: string }).text, /paged as level (P\d)/.exec(m.text!)![1]]);
  const mailsTo = (id: string, to: string, text: RegExp) =>
    w.mail.messages.filter((m) => m.subject?.includes(id) && (m.to as { text: string }).text === to && text.test(m.text ?? ''));
  const chatPages = (id: string) => w.chat.bodies.filter((b) => String(b.text).includes(id) && /paged as level/.test(String(b.text)));
  const settled = (id: string) =>
    waitUntil(`the outbox of ${id} to drain`, async () => {
      const list = await pages(id);
      return list.every((p) => p.status !== 'pending') && list;
    });

  it('nobody acknowledges: a P2 pages P2, then P1 at the response time, repeats the chain once, then records chain_exhausted; a P4 notifies and never escalates', async () => {
    const p2 = await deliver(
      payload({ groupKey: 'esc-p2', alerts: [{ alertname: 'HighErrorRate', severity: 'warning', component: 'api' }] }),
    );
    const p4 = await deliver(
      payload({ groupKey: 'esc-p4', alerts: [{ alertname: 'DiskAlmostFull', severity: 'info', component: 'api' }] }),
    );
    expect((await detail(p2)).severity).toBe('P2');
    expect((await detail(p4)).severity).toBe('P4');

    await waitUntil('the chain to run out', async () => (await eventsOf(p2, 'chain_exhausted')).length > 0, 60_000);
    const list = await settled(p2);
    // Well past every response time: nothing more happens to either incident.
    await sleep(5000);

    const chain = await eventsOf(p2, 'opened', 'escalated', 'chain_exhausted', 'acknowledged');
    expect(chain.map((e) => e.type)).toEqual(['opened', 'escalated', 'escalated', 'escalated', 'chain_exhausted']);
    expect(chain.filter((e) => e.type === 'escalated').map((e) => e.data)).toEqual([
      { round: 0, step: 1, level: 'P1', contacts: ['budi', 'dewi'] },
      { round: 1, step: 0, level: 'P2', contacts: ['budi'] },
      { round: 1, step: 1, level: 'P1', contacts: ['budi', 'dewi'] },
    ]);
    expect(chain[4].data).toEqual({ rounds: 2 });
    expect((await detail(p2)).escalation).toMatchObject({ round: 1, step: 1, nextAt: null, escalations: 3 });

    // One page per person, channel and step; all sent; no more after the chain.
    const byReason = (reason: string) =>
      list
        .filter((p) => p.reason === reason)
        .map((p) => `${p.person}/${p.channel}/${p.status}`)
        .sort();
    expect(list.filter((p) => p.reason.startsWith('page:')).length).toBe(10);
    expect(byReason('page:0')).toEqual(['budi/chat/sent', 'budi/email/sent']);
    expect(byReason('page:1')).toEqual(['budi/chat/sent', 'budi/email/sent', 'dewi/email/sent']);
    expect(byReason('page:2')).toEqual(['budi/chat/sent', 'budi/email/sent']);
    expect(byReason('page:3')).toEqual(['budi/chat/sent', 'budi/email/sent', 'dewi/email/sent']);
    expect((await pages(p2)).filter((p) => p.reason.startsWith('page:')).length).toBe(10);

    // The mails and chat messages as received: the steps in order, each once.
    const mails = pageMails(p2);
    expect(mails.filter(([to]) => to === 'budi@erp.test').map(([, level]) => level)).toEqual(['P2', 'P1', 'P2', 'P1']);
    expect(mails.filter(([to]) => to === 'dewi@erp.test').map(([, level]) => level)).toEqual(['P1', 'P1']);
    expect(mails.length).toBe(6);
    expect(chatPages(p2).map((b) => /paged as level (P\d)/.exec(b.text)![1])).toEqual(['P2', 'P1', 'P2', 'P1']);

    // P4: the P3 contacts (sari) once, no escalation ever.
    expect(await eventsOf(p4, 'escalated', 'chain_exhausted')).toEqual([]);
    expect((await detail(p4)).escalation).toMatchObject({ nextAt: null, escalations: 0 });
    expect(
      (await settled(p4))
        .filter((p) => p.reason.startsWith('page:'))
        .map((p) => `${p.reason}/${p.person}/${p.channel}/${p.status}`)
        .sort(),
    ).toEqual(['page:0/sari/chat/sent', 'page:0/sari/email/sent']);
    expect(pageMails(p4)).toEqual([['sari@erp.test', 'P3']]);
  });

  it('acknowledging over REST stops the chain and cancels pending pages; when the acknowledgement lapses the incident is triggered again and pages again', async () => {
    refuseDewi = true;
    const id = await deliver(
      payload({ groupKey: 'esc-ack', alerts: [{ alertname: 'APIServiceDown', severity: 'critical', component: 'api' }] }),
    );
    // budi's pages went out; dewi's mail was refused once and waits for its next try.
    await waitUntil('budi paged, dewi pending', async () => {
      const list = (await pages(id)).filter((p) => p.reason === 'page:0');
      return (
        list.filter((p) => p.person === 'budi' && p.status === 'sent').length === 2 &&
        list.some((p) => p.person === 'dewi' && p.status === 'pending' && p.attempts >= 1)
      );
    });
    const ack = await w.t.http().post(`/api/v1/incidents/${id}/acknowledge`).set('authorization', `Bearer ${budi}`);
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: w.users.budi, escalation: { nextAt: null } });
    const [acknowledged] = await eventsOf(id, 'acknowledged');
    expect(acknowledged).toMatchObject({ actor: w.users.budi, data: { via: 'api', cancelledNotifications: 1 } });
    expect((await pages(id)).filter((p) => p.person === 'dewi').map((p) => p.status)).toEqual(['cancelled']);
    refuseDewi = false;

    // The acknowledgement (8 s) outlasts the P1 response time (2 s): only its end pages again.
    await waitUntil('the acknowledgement to lapse', async () => (await eventsOf(id, 'ack_expired')).length > 0, 30_000);
    await waitUntil('the pages after the lapse', async () => {
      const sent = (await pages(id)).filter((p) => p.reason === 'page:1' && p.status === 'sent');
      return sent.length === 3;
    });
    const resolved = await w.t.http().post(`/api/v1/incidents/${id}/resolve`).set('authorization', `Bearer ${budi}`).send({});
    expect(resolved.status).toBe(200);
    const list = await settled(id);

    // Between the acknowledgement and its lapse: no escalation, no page (reminders aside).
    const timeline = await events(id);
    const from = timeline.findIndex((e) => e.type === 'acknowledged');
    const lapse = timeline.findIndex((e) => e.type === 'ack_expired');
    const between = timeline.slice(from + 1, lapse);
    expect(between.map((e) => e.type)).not.toContain('escalated');
    expect(between.filter((e) => String(e.data.reason).startsWith('page:'))).toEqual([]);
    expect(timeline.slice(lapse + 1).filter((e) => e.type === 'notification_sent' && e.data.reason === 'page:1').length).toBe(3);
    expect(
      list
        .filter((p) => p.reason === 'page:1')
        .map((p) => `${p.person}/${p.channel}/${p.status}`)
        .sort(),
    ).toEqual(['budi/chat/sent', 'budi/email/sent', 'dewi/email/sent']);
    // dewi's cancelled page never went out: her mails are exactly her pages sent after the lapse.
    const sentTo = (person: string) =>
      list.filter((p) => p.reason.startsWith('page:') && p.person === person && p.channel === 'email' && p.status === 'sent').length;
    expect(list.filter((p) => p.reason === 'page:0' && p.person === 'dewi').map((p) => p.status)).toEqual(['cancelled']);
    expect(mailsTo(id, 'dewi@erp.test', /paged as level/).length).toBe(sentTo('dewi'));
    expect(mailsTo(id, 'budi@erp.test', /paged as level/).length).toBe(sentTo('budi'));
  });

  it('reminds of a late status update (P1) and of a late incident report, each reminder once', async () => {
    const created = await w.t
      .http()
      .post('/api/v1/incidents')
      .set('authorization', `Bearer ${admin}`)
      .send({ title: 'Orders fail', severity: 'P1', component: 'api', assignee: w.users.budi });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await waitUntil(
      'a status update reminder sent',
      async () => (await pages(id)).some((p) => p.reason.startsWith('status:') && p.channel === 'email' && p.status === 'sent'),
      30_000,
    );
    const resolved = await w.t.http().post(`/api/v1/incidents/${id}/resolve`).set('authorization', `Bearer ${budi}`).send({});
    expect(resolved.status).toBe(200);
    await waitUntil('the late report reminder', async () => (await eventsOf(id, 'report_late')).length > 0, 30_000);
    const list = await settled(id);
    await sleep(3000);

    expect((await eventsOf(id, 'report_late')).length).toBe(1);
    const due = await eventsOf(id, 'status_update_due');
    const reminders = list.filter((p) => p.reason.startsWith('status:'));
    // Each due status update: one reminder to the assignee (budi) per channel, each sent or cancelled by the resolution.
    expect(new Set(reminders.map((p) => p.reason)).size).toBe(due.length);
    for (const reason of new Set(reminders.map((p) => p.reason)))
      expect(
        reminders
          .filter((p) => p.reason === reason)
          .map((p) => `${p.person}/${p.channel}`)
          .sort(),
      ).toEqual(['budi/chat', 'budi/email']);
    const sentStatusMails = reminders.filter((p) => p.channel === 'email' && p.status === 'sent').length;
    expect(mailsTo(id, 'budi@erp.test', /Status update due/).length).toBe(sentStatusMails);
    // The report reminder: once.
    expect(
      list
        .filter((p) => p.reason === 'report-late')
        .map((p) => `${p.person}/${p.channel}/${p.status}`)
        .sort(),
    ).toEqual(['budi/chat/sent', 'budi/email/sent']);
    expect(mailsTo(id, 'budi@erp.test', /report of .* is late/).length).toBe(1);
    expect(mailsTo(id, 'dewi@erp.test', /report of .* is late/).length).toBe(0);

    const report = await w.t
      .http()
      .post(`/api/v1/incidents/${id}/report`)
      .set('authorization', `Bearer ${budi}`)
      .send({ text: 'Root cause: a bad deploy.' });
    expect(report.status).toBe(200);
    expect((await eventsOf(id, 'report_submitted'))[0].message).toMatch(/\(late\)/);
  });
});
