import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { incidentWorld, IncidentWorld, waitUntil } from './helpers';

const ZONE = 'Asia/Kolkata';
const DAY_MS = 24 * 3600 * 1000;

/** The weekday three days from now on the wall clock of ZONE: its support hours are then, never now. */
const weekday = new Intl.DateTimeFormat('en-US', { timeZone: ZONE, weekday: 'short' }).format(Date.now() + 3 * DAY_MS);
const GAP = `level P3 has nobody on call every week ${weekday} 12:00–next ${weekday} 10:00 (${ZONE})`;

interface Event {
  type: string;
  message: string;
  data: Record<string, any>;
}

/**
 * Issue 14, "the inventory is checked at start": a rotation on call only some hours leaves the
 * rest of the week with nobody at its level. The start-up warning and GET /api/v1/oncall name
 * those hours, and an incident opened in them pages nobody there, says so in its timeline and
 * goes on up the chain.
 */
describe('on-call hours: gaps warned at start, served, and recorded when an incident falls in one', () => {
  let w: IncidentWorld;
  let admin: string;
  let viewer: string;

  before(async () => {
    w = await incidentWorld({
      inventoryPatch: (doc) => {
        doc.timezone = ZONE;
        // P3 answers within 10 min (10 s at scale 60); a P1 starts at P3 and wants a status update every minute (1 s).
        doc.escalation.P3.responseMinutes = 10;
        doc.incidents.policies = { P1: { steps: ['P3', 'P1'], repeat: 0 } };
        doc.incidents.statusUpdateMinutes = { P1: 1, P2: 10 };
        doc.incidents.rotations.find((r: { id: string }) => r.id === 'support').hours = [
          { days: [weekday.toLowerCase()], from: '10:00', to: '12:00' },
        ];
      },
    });
    admin = await w.t.tokenFor(Role.Admin);
    viewer = await w.t.tokenFor(Role.Viewer);
  });
  after(() => w.close());

  const detail = async (id: string) => (await w.t.http().get(`/api/v1/incidents/${id}`).set('authorization', `Bearer ${admin}`)).body;
  const open = async (severity: string) => {
    const res = await w.t
      .http()
      .post('/api/v1/incidents')
      .set('authorization', `Bearer ${admin}`)
      .send({ title: `Queue stalls (${severity})`, severity, component: 'api' });
    expect([res.status, res.body.message]).toEqual([201, undefined]);
    return res.body.id as string;
  };

  it('warns at start and serves the weekly gap in REST and GraphQL, with the rotation off call now', async () => {
    expect(w.t.logs.filter((l) => l.includes('on-call set-up:'))).toEqual([expect.stringContaining(`on-call set-up: ${GAP}`)]);
    const res = await w.t.http().get('/api/v1/oncall').set('authorization', `Bearer ${viewer}`);
    expect(res.status).toBe(200);
    expect(res.body.timezone).toBe(ZONE);
    expect(res.body.problems).toEqual([GAP]);
    const p3 = res.body.levels.find((l: { level: string }) => l.level === 'P3');
    expect(p3.now).toEqual([]);
    expect(p3.rotations).toEqual([
      expect.objectContaining({
        id: 'support',
        now: 'sari',
        onCallNow: false,
        hours: [{ days: [weekday.toLowerCase()], from: '10:00', to: '12:00' }],
      }),
    ]);
    const p2 = res.body.levels.find((l: { level: string }) => l.level === 'P2');
    expect(p2.now.map((c: { id: string }) => c.id)).toEqual(['budi']);
    const gql = await w.t.gql(viewer, '{ oncall { timezone problems } }');
    expect(gql.body).toEqual({ data: { oncall: { timezone: ZONE, problems: [GAP] } } });
  });

  it('a P3 opened in the gap pages nobody at P3, records that nobody was on call, then escalates to P2', async () => {
    const id = await open('P3');
    const opened = await detail(id);
    expect(opened.notifications).toEqual([]);
    const nobody = opened.timeline.filter((e: Event) => e.type === 'nobody_on_call');
    expect(nobody).toEqual([
      expect.objectContaining({
        data: { level: 'P3', round: 0, step: 0, contacts: ['rotation:support'], reached: [] },
        message: expect.stringMatching(
          new RegExp(`^Nobody on call at level P3 \\(rotation:support\\) at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d ${ZONE}: nobody was paged`),
        ),
      }),
    ]);
    // The chain goes on: P3's response time (10 min at scale 60: 10 s) later, P2 (budi) is paged.
    const escalated = await waitUntil('the escalation to P2', async () =>
      (await detail(id)).timeline.find((e: Event) => e.type === 'escalated' && e.data.level === 'P2'),
    );
    expect(escalated.data.contacts).toEqual(['budi']);
    const pages = (await detail(id)).notifications as { person: string; reason: string }[];
    expect([...new Set(pages.map((p) => `${p.person} ${p.reason}`))]).toEqual(['budi page:1']);
  });

  it('a P1 starting in the gap: its status reminder, due while the chain is still at P3, reaches nobody and says so', async () => {
    const id = await open('P1');
    const due = await waitUntil('the status update reminder', async () =>
      (await detail(id)).timeline.find((e: Event) => e.type === 'status_update_due'),
    );
    const incident = await detail(id);
    expect(incident.escalation).toMatchObject({ level: 'P3', step: 0 });
    expect(incident.notifications).toEqual([]);
    const nobody = incident.timeline.filter((e: Event) => e.type === 'nobody_on_call').map((e: Event) => e.data);
    expect(nobody).toEqual([
      { level: 'P3', round: 0, step: 0, contacts: ['rotation:support'], reached: [] },
      { level: 'P3', reminder: expect.stringMatching(/^status:\d+$/), contacts: ['rotation:support'], reached: [] },
    ]);
    expect(incident.timeline.find((e: Event) => e.data.reminder).message).toMatch(
      new RegExp(`^Nobody to remind at .* ${ZONE}: nobody is on call at level P3$`),
    );
    expect(due.message).toMatch(/^A status update was due at/);
  });

  it('a P2 opened at the same time pages budi and records no gap', async () => {
    const id = await open('P2');
    const opened = await detail(id);
    expect([...new Set(opened.notifications.map((p: { person: string }) => p.person))]).toEqual(['budi']);
    expect(opened.timeline.filter((e: Event) => e.type === 'nobody_on_call')).toEqual([]);
  });
});
