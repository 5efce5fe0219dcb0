import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Client } from 'pg';
import { Role } from '../../src/common/rights';
import { dbUrl, withClient } from '../helpers/db';
import { incidentWorld, IncidentWorld } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * An acknowledgement cancels the incident's pending pages while the page sender marks one of
 * them sent and writes its timeline event. The sender's transaction holds the page row and
 * then needs the incident row (the event's foreign key takes a KEY SHARE lock); the
 * acknowledgement holds the incident row and then needs the page. With FOR UPDATE on the
 * incident these two deadlock and the acknowledgement got a 500; the incident is locked FOR NO
 * KEY UPDATE (its key never changes), which a foreign key check does not wait for.
 */
describe('incident row locks against the page sender', () => {
  let w: IncidentWorld;
  let admin: string;
  before(async () => {
    // No timers in this app: its pages stay pending, and this test plays the sender.
    w = await incidentWorld({ env: { OPS_INCIDENT_TIMERS: 'false' } });
    admin = await w.t.tokenFor(Role.Admin);
  });
  after(() => w.close());

  it("acknowledging while the sender marks a page sent: both commit, no deadlock, the page's event and the acknowledgement are there", async () => {
    const made = await w.t
      .http()
      .post('/api/v1/incidents')
      .set('authorization', `Bearer ${admin}`)
      .send({ title: 'Orders stuck', severity: 'P2', component: 'api' });
    expect(made.status).toBe(201);
    const id = made.body.id as string;
    const pages = await withClient(w.t.database, async (c) =>
      (await c.query("SELECT id FROM incident_pages WHERE incident_id = $1 AND status = 'pending' ORDER BY id", [id])).rows.map(
        (r) => r.id as string,
      ),
    );
    expect(pages.length).toBeGreaterThan(0);

    // The sender's transaction, step 1: the page row (as escalation.engine marks it sent).
    const sender = new Client({ connectionString: dbUrl(w.t.database) });
    await sender.connect();
    try {
      await sender.query('BEGIN');
      await sender.query("UPDATE incident_pages SET status = 'sent', sent_at = now() WHERE id = $1 AND status = 'pending'", [pages[0]]);
      // The acknowledgement locks the incident, then waits for that page.
      const ack = w.t
        .http()
        .post(`/api/v1/incidents/${id}/acknowledge`)
        .set('authorization', `Bearer ${admin}`)
        .send({})
        .then((r) => r);
      await sleep(500);
      // Step 2: the timeline event, whose foreign key needs the incident row.
      await sender.query("INSERT INTO incident_events (incident_id, at, type, message) VALUES ($1, now(), 'notification_sent', 'sent')", [
        id,
      ]);
      await sender.query('COMMIT');
      const answer = await ack;
      expect([answer.status, answer.body.status]).toEqual([200, 'acknowledged']);
    } finally {
      await sender.end();
    }
    const after = await withClient(w.t.database, async (c) => ({
      pages: (await c.query('SELECT id, status FROM incident_pages WHERE incident_id = $1 ORDER BY id', [id])).rows,
      events: (
        await c.query(
          "SELECT type FROM incident_events WHERE incident_id = $1 AND type IN ('notification_sent', 'acknowledged') ORDER BY id",
          [id],
        )
      ).rows.map((r) => r.type),
    }));
    // The page already sent stays sent; the others were cancelled by the acknowledgement.
    expect(after.pages).toEqual(pages.map((p, i) => ({ id: p, status: i === 0 ? 'sent' : 'cancelled' })));
    expect(after.events).toEqual(['notification_sent', 'acknowledged']);
  });
});
