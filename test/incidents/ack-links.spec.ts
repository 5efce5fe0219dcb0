import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { incidentWorld, IncidentWorld, waitUntil } from './helpers';

const LINK = /\/api\/v1\/incidents\/ack\/([0-9a-f-]{36}\.[A-Za-z0-9_-]+)/;

/**
 * Issue 14, "Acknowledge from where the person is": the one-click link of a page acknowledges
 * as its person, once, before its step's response time ends; a GET changes nothing; a used,
 * expired, altered or out-of-rights link changes nothing and says why (4xx). The P1 level
 * here pages budi (senior dev), dewi (DBA) and sari (support).
 */
describe('acknowledge links and the rights to acknowledge', () => {
  let w: IncidentWorld;
  let admin: string;
  const tokens: Record<string, string> = {};

  before(async () => {
    w = await incidentWorld({
      inventoryPatch: (doc) => {
        doc.escalation.P1.responseMinutes = 30;
        doc.escalation.P2.responseMinutes = 2;
        doc.incidents.levels.P1 = ['rotation:senior-dev', 'person:dewi', 'person:sari'];
        doc.incidents.policies = { P2: { steps: ['P2', 'P1'], repeat: 0 } };
      },
    });
    admin = await w.t.tokenFor(Role.Admin);
    for (const who of ['sari', 'budi', 'dewi'] as const) tokens[who] = await w.t.login(w.users[who]);
  });
  after(async () => {
    if (process.env.DEBUG_LOGS) console.log(w.t.logs.filter((l) => /incident|Incident|EscalationEngine/.test(l)).join(''));
    await w.close();
  });

  const open = async (severity: string, component = 'api') => {
    const res = await w.t
      .http()
      .post('/api/v1/incidents')
      .set('authorization', `Bearer ${admin}`)
      .send({ title: `Checkout broken (${severity})`, severity, component });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const detail = async (id: string) => (await w.t.http().get(`/api/v1/incidents/${id}`).set('authorization', `Bearer ${admin}`)).body;
  /** What a refused attempt must leave as it was: status, acknowledgement, position in the chain, and the acknowledged events. */
  const state = async (id: string) => {
    const d = await detail(id);
    return {
      status: d.status,
      acknowledgedAt: d.acknowledgedAt,
      acknowledgedBy: d.acknowledgedBy,
      assignee: d.assignee,
      escalation: d.escalation,
      acknowledged: d.timeline.filter((e: { type: string }) => e.type === 'acknowledged'),
    };
  };
  /** The link mailed to `to` about the incident at level `level`. */
  const linkFor = (id: string, to: string, level: string) =>
    waitUntil(`the ${level} mail to ${to}`, async () => {
      const mail = w.mail.messages.find(
        (m) => m.subject?.includes(id) && (m.to as { text: string }).text === to && m.text?.includes(`paged as level ${level}`),
      );
      return mail && LINK.exec(mail.text!)![1];
    });
  const getLink = (token: string) => w.t.http().get(`/api/v1/incidents/ack/${token}`);
  const postLink = (token: string) => w.t.http().post(`/api/v1/incidents/ack/${token}`);
  const audit = async (target: string) =>
    (
      await w.t.http().get('/api/v1/audit').query({ action: 'incidents.acknowledge', limit: 100 }).set('authorization', `Bearer ${admin}`)
    ).body.items.filter((e: { target: string }) => e.target === target);

  it('GET shows what the link does and changes nothing; POST acknowledges as its person (audited as them); the link then refuses a second use', async () => {
    const id = await open('P1');
    const token = await linkFor(id, 'budi@erp.test', 'P1');
    const before = await state(id);

    for (let i = 0; i < 3; i++) {
      const page = await getLink(token);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.text).toContain(`Acknowledge as <b>${w.users.budi}</b>`);
      expect(page.text).toContain('<form method="post">');
      expect(page.text).toContain(id);
    }
    expect(await state(id)).toEqual(before);
    expect(await audit(`incident:${id}`)).toEqual([]);

    const ack = await postLink(token);
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({
      id,
      status: 'acknowledged',
      acknowledgedBy: w.users.budi,
      assignee: w.users.budi,
      escalation: { nextAt: null },
    });
    const acked = await state(id);
    expect(acked.acknowledged).toEqual([
      expect.objectContaining({ actor: w.users.budi, data: expect.objectContaining({ via: 'one-click link' }) }),
    ]);
    expect(await audit(`incident:${id}`)).toEqual([
      expect.objectContaining({ actor: w.users.budi, actorRole: 'senior_dev', outcome: 'success', parameters: { via: 'link' } }),
    ]);

    // Reused: a clear 4xx naming the problem, nothing changed.
    const again = await postLink(token);
    expect(again.status).toBe(400);
    expect(again.body.message).toBe('this acknowledge link has already been used');
    expect(await state(id)).toEqual(acked);
    const shown = await getLink(token);
    expect(shown.status).toBe(200);
    expect(shown.text).toContain('This link has already been used.');
    expect(shown.text).not.toContain('<form');
  });

  it('refuses a link whose step has passed (its response time): 400, nothing changed', async () => {
    const id = await open('P2');
    const token = await linkFor(id, 'budi@erp.test', 'P2');
    // The P2 step lasts 2 s; the chain moves to P1 and budi's P2 link expires with it.
    await waitUntil('the escalation to P1', async () => (await detail(id)).escalation.level === 'P1');
    const before = await state(id);
    const late = await postLink(token);
    expect(late.status).toBe(400);
    expect(late.body.message).toBe('this acknowledge link has expired');
    expect(await state(id)).toEqual(before);
    expect((await getLink(token)).text).toContain('This link has expired.');
    // The P1 step's link of the same person works.
    const fresh = await postLink(await linkFor(id, 'budi@erp.test', 'P1'));
    expect(fresh.status).toBe(200);
  });

  it('refuses an altered token (HMAC or id changed, extra parts, another link’s id): 400, nothing changed, the genuine link still works', async () => {
    const id = await open('P1');
    const token = await linkFor(id, 'budi@erp.test', 'P1');
    const other = await linkFor(id, 'dewi@erp.test', 'P1');
    const [linkId, mac] = token.split('.');
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const flipHex = (s: string, i: number) => s.slice(0, i) + (s[i] === '0' ? '1' : '0') + s.slice(i + 1);
    const forged = [
      `${linkId}.${flip(mac, 10)}`,
      `${linkId}.${flip(mac, mac.length - 1)}`,
      `${flipHex(linkId, 0)}.${mac}`,
      `${flipHex(linkId, 35)}.${mac}`,
      `${other.split('.')[0]}.${mac}`,
      `${linkId}.${mac}.x`,
      `${linkId}.${mac}.`,
      `${linkId}.${mac.slice(0, -1)}`,
      `${linkId}`,
      `${linkId}.`,
      `.${mac}`,
    ];
    const before = await state(id);
    for (const bad of forged) {
      const post = await postLink(bad);
      expect([bad, post.status, post.body.message]).toEqual([bad, 400, 'this acknowledge link is not valid (altered or unknown)']);
      const get = await getLink(bad);
      expect([bad, get.status]).toEqual([bad, 400]);
    }
    expect(await state(id)).toEqual(before);
    expect(await audit(`incident:${id}`)).toEqual([]);
    const genuine = await postLink(token);
    expect(genuine.status).toBe(200);
  });

  it('refuses the link of a person whose role may not act at the incident’s level: 403 naming whom to call, nothing changed, audited as denied', async () => {
    const id = await open('P1');
    const sari = await linkFor(id, 'sari@erp.test', 'P1');
    const dewi = await linkFor(id, 'dewi@erp.test', 'P1');
    const before = await state(id);
    for (const [token, role] of [
      [sari, 'support'],
      [dewi, 'dba'],
    ]) {
      // Twice: the refused link is not spent.
      for (let i = 0; i < 2; i++) {
        const res = await postLink(token);
        expect(res.status).toBe(403);
        expect(res.body.message).toMatch(
          new RegExp(`^${role} may not acknowledge a P1 system incident; call Budi \\(senior dev\\) \\(\\+62 811 0002\\)`),
        );
        expect(res.body.details).toMatchObject({
          level: 'P1',
          domain: 'system',
          yourRole: role,
          escalateTo: expect.arrayContaining(['Budi (senior dev) (+62 811 0002)']),
        });
      }
    }
    expect(await state(id)).toEqual(before);
    const entries = await audit(`incident:${id}`);
    expect(entries.map((e: { actor: string; outcome: string }) => `${e.actor}/${e.outcome}`).sort()).toEqual(
      [`${w.users.dewi}/denied`, `${w.users.dewi}/denied`, `${w.users.sari}/denied`, `${w.users.sari}/denied`].sort(),
    );
    const budi = await postLink(await linkFor(id, 'budi@erp.test', 'P1'));
    expect(budi.status).toBe(200);
  });

  it('refuses a REST acknowledgement from a role one level too low: 403 with escalateTo, nothing changed; the domain decides (a DBA acknowledges a P1 database incident)', async () => {
    const api = await open('P1');
    const before = await state(api);
    for (const [who, role] of [
      ['dewi', 'dba'],
      ['sari', 'support'],
    ] as const) {
      const res = await w.t.http().post(`/api/v1/incidents/${api}/acknowledge`).set('authorization', `Bearer ${tokens[who]}`);
      expect(res.status).toBe(403);
      expect(res.body.message).toMatch(new RegExp(`^${role} may not acknowledge a P1 system incident; call `));
      expect(res.body.details).toMatchObject({
        level: 'P1',
        yourRole: role,
        rolesWithRight: ['senior_dev', 'admin'],
        escalateTo: expect.arrayContaining(['Budi (senior dev) (+62 811 0002)', 'On-Call Senior Dev']),
      });
    }
    expect(await state(api)).toEqual(before);

    const db = await open('P1', 'database');
    const budi = await w.t.http().post(`/api/v1/incidents/${db}/acknowledge`).set('authorization', `Bearer ${tokens.budi}`);
    expect(budi.status).toBe(403);
    expect(budi.body.details).toMatchObject({ level: 'P1', domain: 'database', yourRole: 'senior_dev' });
    const dewi = await w.t.http().post(`/api/v1/incidents/${db}/acknowledge`).set('authorization', `Bearer ${tokens.dewi}`);
    expect(dewi.status).toBe(200);
    expect(dewi.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: w.users.dewi });
  });
});
