import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { Role } from '../../src/common/rights';
import { IncidentEventStreams } from '../../src/modules/incidents/incident-events';
import { withClient } from '../helpers/db';
import { openSse, SseStream } from '../helpers/sse-client';
import { startTestApp, TestApp } from '../helpers/test-app';
import { incidentsSection, incidentWorld, IncidentWorld, waitUntil } from './helpers';

const SUBSCRIPTION = `subscription ($id: String!, $after: String) {
  incidentEvents(id: $id, after: $after) { id incidentId at type actor message data }
}`;

/** A graphql-ws client of `url`, signed in with `token`. */
function wsClient(url: string, token: string) {
  return createClient({
    url: url.replace(/^http/, 'ws') + '/graphql',
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
  });
}

describe('incident timelines as streams: SSE across replicas, Last-Event-ID, GraphQL subscription', () => {
  let w: IncidentWorld;
  let replica: TestApp;
  let admin: string;
  let viewer: string;

  before(async () => {
    w = await incidentWorld();
    // A second replica on the same database and Redis (its timers off: replica A runs them).
    replica = await startTestApp({
      shareWith: w.t,
      inventoryPatch: incidentsSection({ chat: w.chat.url, smtp: w.mail.url }, w.users),
    });
    for (const app of [w.t, replica]) app.app.get(IncidentEventStreams).heartbeatMs = 200;
    admin = await w.t.tokenFor(Role.Admin);
    viewer = await w.t.tokenFor(Role.Viewer);
  });
  after(async () => {
    await replica.close();
    await w.close();
  });

  const create = async (app: TestApp, severity = 'P3') => {
    const res = await app
      .http()
      .post('/api/v1/incidents')
      .set('authorization', `Bearer ${admin}`)
      .send({ title: 'Invoices stuck in draft', severity, component: 'worker' });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const note = async (app: TestApp, id: string, text: string) => {
    const res = await app.http().post(`/api/v1/incidents/${id}/notes`).set('authorization', `Bearer ${admin}`).send({ text });
    expect(res.status).toBe(200);
  };
  const noteEvent = (stream: SseStream, text: string) => stream.waitFor((e) => e.event === 'note' && e.data.message === text);
  const openStreams = (app: TestApp) => app.app.get(IncidentEventStreams).open;

  it('streams the timeline, then events written through the other replica, and resumes after Last-Event-ID', async () => {
    const id = await create(w.t);
    const stream = await openSse(`${w.t.url}/api/v1/incidents/${id}/events`, viewer);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(stream.headers['x-request-id']).toBeTruthy();
    const opened = await stream.waitFor((e) => e.event === 'opened');
    expect(opened).toMatchObject({ data: { incidentId: id, type: 'opened', actor: expect.any(String) } });

    // Written by replica B, read by a client of replica A.
    await note(replica, id, 'seen from the other replica');
    const seen = await noteEvent(stream, 'seen from the other replica');
    expect(seen?.data).toMatchObject({ incidentId: id, type: 'note', message: 'seen from the other replica', actor: expect.any(String) });
    // The SSE id is the incident event's id; ids only grow.
    for (const e of stream.events) expect(e.id).toBe(e.data.id);
    const numbers = stream.events.map((e) => Number(e.id));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(numbers.length);
    // Kept alive by comments between events.
    await waitUntil('a keep-alive comment', async () => stream.comments.includes('keep-alive'), 10_000);

    // The client goes away: its stream ends on the server.
    stream.close();
    await waitUntil('the stream to end', async () => openStreams(w.t) === 0, 10_000);

    await note(replica, id, 'written while nobody listened');
    // Reconnected to the other replica, as EventSource does after a drop: Last-Event-ID.
    const resumed = await openSse(`${replica.url}/api/v1/incidents/${id}/events`, viewer, { 'last-event-id': seen!.id });
    const late = await noteEvent(resumed, 'written while nobody listened');
    expect(late?.data.incidentId).toBe(id);
    expect(resumed.events.every((e) => Number(e.id) > Number(seen!.id))).toBe(true);
    expect(resumed.events.some((e) => e.event === 'opened' || e.data.message === 'seen from the other replica')).toBe(false);
    // The query parameter resumes the same way (for clients that cannot set headers).
    const byQuery = await openSse(`${w.t.url}/api/v1/incidents/${id}/events?lastEventId=${seen!.id}`, viewer);
    expect((await noteEvent(byQuery, 'written while nobody listened'))?.id).toBe(late!.id);
    expect(byQuery.events[0].id).toBe(resumed.events[0].id);
    resumed.close();
    byQuery.close();
  });

  it('delivers an event that commits after a newer one (ids from a sequence are not commit order)', async () => {
    const id = await create(w.t);
    const stream = await openSse(`${w.t.url}/api/v1/incidents/${id}/events`, viewer);
    const insert =
      "INSERT INTO incident_events (incident_id, at, type, actor, message) VALUES ($1, now(), 'note', 'writer', $2) RETURNING id";
    try {
      await stream.waitFor((e) => e.event === 'opened');
      // Two writers that do not lock the incident row (as the page dispatcher): the first one
      // takes its id, the second takes a higher one and commits first.
      await withClient(w.t.database, (slow) =>
        withClient(w.t.database, async (fast) => {
          await slow.query('BEGIN');
          const held = await slow.query(insert, [id, 'committed last']);
          const quick = await fast.query(insert, [id, 'committed first']);
          expect(Number(quick.rows[0].id)).toBeGreaterThan(Number(held.rows[0].id));
          const first = await noteEvent(stream, 'committed first');
          expect(first?.id).toBe(String(quick.rows[0].id));
          await slow.query('COMMIT');
          const lateOne = await noteEvent(stream, 'committed last');
          expect(lateOne?.data.id).toBe(String(held.rows[0].id));
          // Its SSE id stays at the newest delivered, so a resume does not replay what came before it.
          expect(lateOne?.id).toBe(first!.id);
        }),
      );
      expect(stream.events.filter((e) => e.event === 'note').map((e) => e.data.message)).toEqual(['committed first', 'committed last']);
    } finally {
      stream.close();
    }
    await waitUntil('the stream to end', async () => openStreams(w.t) === 0, 10_000);
  });

  it('serves incidentEvents over graphql-ws: a note added through REST on the other replica arrives', async () => {
    const id = await create(w.t);
    const timeline = (await w.t.http().get(`/api/v1/incidents/${id}`).set('authorization', `Bearer ${viewer}`)).body.timeline;
    const last = String(timeline[timeline.length - 1].id);
    const client = wsClient(w.t.url, viewer);
    const received: any[] = [];
    try {
      const iterator = client.iterate<{ incidentEvents: any }>({ query: SUBSCRIPTION, variables: { id, after: last } });
      await waitUntil('the subscription to open', async () => openStreams(w.t) > 0, 10_000);
      await note(replica, id, 'from REST, into GraphQL');
      for await (const result of iterator) {
        expect(result.errors).toBeUndefined();
        received.push(result.data!.incidentEvents);
        if (result.data!.incidentEvents.message === 'from REST, into GraphQL') break;
      }
    } finally {
      await client.dispose();
    }
    expect(received.every((e) => Number(e.id) > Number(last))).toBe(true);
    expect(received[received.length - 1]).toMatchObject({ incidentId: id, type: 'note', message: 'from REST, into GraphQL' });
    await waitUntil('the subscription to end', async () => openStreams(w.t) === 0, 10_000);
  });

  it('refuses a bad id, a bad position, an unknown incident and a service identity on the subscription', async () => {
    const id = await create(w.t);
    const service = w.alertmanager;
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      [viewer, { id: 'INC-1' }, 'BAD_USER_INPUT', /^id: must be an incident id/],
      [viewer, { id, after: 'x' }, 'BAD_USER_INPUT', /^after: must be the id of an incident event/],
      [viewer, { id: 'INC-20991231-999' }, 'NOT_FOUND', /^incident INC-20991231-999 does not exist$/],
      [service, { id }, 'FORBIDDEN', /incidents\.read/],
    ];
    for (const [token, variables, code, message] of cases) {
      const client = wsClient(w.t.url, token);
      try {
        const errors: any[] = [];
        try {
          for await (const result of client.iterate({ query: SUBSCRIPTION, variables })) errors.push(...(result.errors ?? []));
        } catch (error) {
          errors.push(...(Array.isArray(error) ? error : [error]));
        }
        expect([JSON.stringify(variables), errors[0]?.extensions?.code, errors[0]?.message]).toEqual([
          JSON.stringify(variables),
          code,
          expect.stringMatching(message),
        ]);
      } finally {
        await client.dispose();
      }
    }
    expect(openStreams(w.t)).toBe(0);
    // Over HTTP, the subscription says where it is served.
    const http = await w.t.gql(viewer, `subscription { incidentEvents(id: "${id}") { id } }`);
    expect(http.body.errors[0].message).toMatch(/incidentEvents: is a subscription: use graphql-ws/);
  });
});
