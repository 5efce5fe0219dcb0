import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { createClient } from 'graphql-ws';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { Role } from '../src/common/rights';
import { ProcedureRegistry } from '../src/procedures/procedure-registry';
import { RunEvents } from '../src/procedures/run-events';
import { withClient } from './helpers/db';
import { waitingProcedure } from './helpers/procedure-fixtures';
import { openSse } from './helpers/sse-client';
import { startTestApp, TestApp } from './helpers/test-app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const UNKNOWN = '00000000-0000-4000-8000-000000000000';
const SUBSCRIPTION = 'subscription ($id: String!) { runEvents(runId: $id) { id type runId data } }';
const RUN_FIELDS = 'id procedureId status dryRun error requestedBy steps { position stepId status plan output error }';

/** Subscribes over graphql-ws; resolves with every event, or rejects with the error or close event. */
async function subscribe(url: string, connectionParams: Record<string, unknown> | undefined, runId: string) {
  const client = createClient({
    url: url.replace(/^http/, 'ws') + '/graphql',
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
  const events: any[] = [];
  try {
    for await (const result of client.iterate<{ runEvents: any }>({ query: SUBSCRIPTION, variables: { id: runId } })) {
      if (result.errors) throw result.errors;
      events.push(result.data!.runEvents);
    }
    return events;
  } finally {
    await client.dispose();
  }
}

describe('run events (SSE and GraphQL) and the runner over GraphQL', () => {
  let t: TestApp;
  let redis: Redis;
  const tokens = new Map<string, string>();
  const as = (who: string) => tokens.get(who)!;

  before(async () => {
    // A short request timeout: the streams below outlive it.
    t = await startTestApp({ env: { OPS_REQUEST_TIMEOUT_MS: '1000' } });
    t.app.get(RunEvents).heartbeatMs = 200;
    const registry = t.app.get(ProcedureRegistry);
    registry.register(waitingProcedure('test.wait'));
    registry.register(waitingProcedure('test.approved', { requiresApproval: true }));
    for (const [who, role] of [
      ['viewer', Role.Viewer],
      ['operator', Role.Operator],
      ['senior', Role.SeniorDev],
      ['admin', Role.Admin],
    ] as const) {
      tokens.set(who, await t.tokenFor(role));
    }
    redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0');
  });
  after(async () => {
    await redis.quit();
    await t.close();
  });

  const request = (id: string, body: object, who = 'operator') =>
    t
      .http()
      .post(`/api/v1/procedures/${id}/runs`)
      .set('Authorization', `Bearer ${as(who)}`)
      .send(body);
  const get = (runId: string) =>
    t
      .http()
      .get(`/api/v1/runs/${runId}`)
      .set('Authorization', `Bearer ${as('viewer')}`);
  const until = async (runId: string, statuses: string[], ms = 10000) => {
    const end = Date.now() + ms;
    let res = await get(runId);
    while (!statuses.includes(res.body.status) && Date.now() < end) {
      await sleep(50);
      res = await get(runId);
    }
    return res.body;
  };
  const subscribers = async (runId: string) => ((await redis.pubsub('NUMSUB', `run-events:${runId}`)) as [string, number])[1];

  describe('GET /api/v1/runs/:id/events', () => {
    it('refuses a bad id (400), an unknown run (404) and no token (401) before any stream starts', async () => {
      const bad = await openSse(`${t.url}/api/v1/runs/nope/events`, as('viewer'));
      expect([bad.status, bad.body.message]).toEqual([400, 'id: must be a UUID']);
      const unknown = await openSse(`${t.url}/api/v1/runs/${UNKNOWN}/events`, as('viewer'));
      expect([unknown.status, unknown.body.error, unknown.body.message]).toEqual([404, 'NOT_FOUND', `run ${UNKNOWN} does not exist`]);
      expect(unknown.headers['content-type']).toMatch(/application\/json/);
      expect((await openSse(`${t.url}/api/v1/runs/${UNKNOWN}/events`)).status).toBe(401);
      expect(await subscribers(UNKNOWN)).toBe(0);
    });

    it('streams a snapshot, then every event, and ends after the final status; outlives the request timeout with keep-alive comments', async () => {
      // Opened while the run awaits its approval: the stream then sees every event.
      const res = await request('test.approved', { parameters: { waitMs: 1600 } });
      expect(res.body.status).toBe('awaiting_approval');
      const stream = await openSse(`${t.url}/api/v1/runs/${res.body.id}/events`, as('viewer'));
      expect(stream.status).toBe(200);
      await stream.waitFor((e) => e.event === 'snapshot');
      expect(
        (
          await t
            .http()
            .post(`/api/v1/runs/${res.body.id}/approve`)
            .set('Authorization', `Bearer ${as('senior')}`)
        ).status,
      ).toBe(200);
      expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(stream.headers['x-request-id']).toBeTruthy();
      expect(stream.headers['x-content-type-options']).toBe('nosniff');
      await stream.ended;
      const [first, ...rest] = stream.events;
      expect(first.event).toBe('snapshot');
      const snapshot = (await get(res.body.id)).body;
      expect(Object.keys(first.data).sort()).toEqual(Object.keys(snapshot).sort());
      expect(first.data).toMatchObject({
        id: res.body.id,
        procedureId: 'test.approved',
        status: 'awaiting_approval',
        steps: expect.any(Array),
      });
      expect(stream.events.map((e) => e.id)).toEqual(stream.events.map((_, i) => String(i + 1)));
      const seen = rest.map((e) =>
        [e.event, e.data.step ?? e.data.status, e.data.step ? e.data.status : undefined].filter(Boolean).join(' '),
      );
      expect(seen).toEqual([
        'status running',
        'step one running',
        'progress one',
        'step one succeeded',
        'step two running',
        'step two succeeded',
        'status succeeded',
      ]);
      expect(rest[rest.length - 1]).toMatchObject({ event: 'status', data: { runId: res.body.id, status: 'succeeded' } });
      // It lasted past OPS_REQUEST_TIMEOUT_MS (1 s) and was kept alive by comments.
      expect(stream.comments.filter((c) => c === 'keep-alive').length).toBeGreaterThanOrEqual(3);
      expect(await subscribers(res.body.id)).toBe(0);
    });

    it('gives a run that already ended its snapshot and ends at once', async () => {
      const res = await request('test.wait', { dryRun: true });
      expect(res.body.status).toBe('succeeded');
      const stream = await openSse(`${t.url}/api/v1/runs/${res.body.id}/events`, as('viewer'));
      await stream.ended;
      expect(stream.events).toEqual([
        { event: 'snapshot', id: '1', data: expect.objectContaining({ id: res.body.id, status: 'succeeded' }) },
      ]);
    });

    it('unsubscribes when the client goes away', async () => {
      const res = await request('test.wait', { parameters: { waitMs: 5000 } });
      const stream = await openSse(`${t.url}/api/v1/runs/${res.body.id}/events`, as('viewer'));
      await stream.waitFor((e) => e.event === 'snapshot');
      expect(await subscribers(res.body.id)).toBe(1);
      stream.close();
      const end = Date.now() + 3000;
      while ((await subscribers(res.body.id)) > 0 && Date.now() < end) await sleep(50);
      expect(await subscribers(res.body.id)).toBe(0);
      await t
        .http()
        .post(`/api/v1/runs/${res.body.id}/cancel`)
        .set('Authorization', `Bearer ${as('operator')}`);
      await until(res.body.id, ['cancelled']);
    });

    it('ends open streams when the application shuts down, without waiting for the run', async () => {
      const replica = await startTestApp({ shareWith: t });
      replica.app.get(RunEvents).heartbeatMs = 200;
      const res = await request('test.wait', { parameters: { waitMs: 8000 } });
      const stream = await openSse(`${replica.url}/api/v1/runs/${res.body.id}/events`, as('viewer'));
      await stream.waitFor((e) => e.event === 'snapshot');
      const started = Date.now();
      await replica.close();
      await stream.ended;
      expect(Date.now() - started).toBeLessThan(3000);
      await t
        .http()
        .post(`/api/v1/runs/${res.body.id}/cancel`)
        .set('Authorization', `Bearer ${as('operator')}`);
      await until(res.body.id, ['cancelled', 'interrupted']);
    });
  });

  describe('GraphQL', () => {
    it('lists procedures and runs, and reads a run as REST does', async () => {
      const made = await request('test.wait', { dryRun: true, parameters: { waitMs: 7 } });
      const res = await t.gql(
        as('viewer'),
        `query ($id: String!) {
        procedures { id severity domain requiresApproval confirmation roles }
        runs(procedure: "test.wait", status: "succeeded", limit: 1) { items { id status steps { stepId } } nextCursor }
        run(id: $id) { ${RUN_FIELDS} }
      }`,
        { id: made.body.id },
      );
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.procedures).toEqual(
        expect.arrayContaining([
          {
            id: 'test.wait',
            severity: 'P3',
            domain: 'system',
            requiresApproval: false,
            confirmation: false,
            roles: ['operator', 'support', 'senior_dev', 'dba', 'admin'],
          },
        ]),
      );
      expect(res.body.data.runs.items).toEqual([{ id: made.body.id, status: 'succeeded', steps: null }]);
      expect(typeof res.body.data.runs.nextCursor).toBe('string');
      const rest = (await get(made.body.id)).body;
      expect(res.body.data.run).toEqual({
        id: rest.id,
        procedureId: 'test.wait',
        status: 'succeeded',
        dryRun: true,
        error: null,
        requestedBy: rest.requestedBy,
        steps: rest.steps.map((s: any) => ({
          position: s.position,
          stepId: s.stepId,
          status: s.status,
          plan: s.plan,
          output: s.output,
          error: s.error,
        })),
      });
    });

    it('requests, approves, rejects and cancels runs with the same rights and audit entries as REST', async () => {
      const requested = await t.gql(
        as('operator'),
        `mutation { requestRun(procedureId: "test.wait", input: { parameters: { waitMs: 3000 } }) { id status } }`,
      );
      expect(requested.body.errors).toBeUndefined();
      const id = requested.body.data.requestRun.id;
      await until(id, ['running']);
      const cancelled = await t.gql(as('operator'), `mutation { cancelRun(id: "${id}") { id } }`);
      expect(cancelled.body.errors).toBeUndefined();
      expect((await until(id, ['cancelled'], 3000)).status).toBe('cancelled');

      const asked = await t.gql(as('operator'), `mutation { requestRun(procedureId: "test.approved") { id status approvalExpiresAt } }`);
      expect(asked.body.data.requestRun).toMatchObject({ status: 'awaiting_approval', approvalExpiresAt: expect.any(String) });
      const self = await t.gql(as('operator'), `mutation { approveRun(id: "${asked.body.data.requestRun.id}") { id } }`);
      expect(self.body.errors[0]).toMatchObject({
        message: expect.stringMatching(/^a second, different person must approve this run \(two-person rule\)/),
        extensions: { code: 'FORBIDDEN', status: 403 },
      });
      const approved = await t.gql(
        as('senior'),
        `mutation { approveRun(id: "${asked.body.data.requestRun.id}") { id status approvedBy } }`,
      );
      expect(approved.body.data.approveRun.status).toBe('queued');
      await until(asked.body.data.requestRun.id, ['succeeded']);
      const again = await t.gql(as('operator'), `mutation { requestRun(procedureId: "test.approved", input: { dryRun: false }) { id } }`);
      const rejected = await t.gql(as('senior'), `mutation { rejectRun(id: "${again.body.data.requestRun.id}") { status error } }`);
      expect(rejected.body.data.rejectRun).toMatchObject({ status: 'rejected' });
      expect((await t.gql(as('viewer'), `mutation { cancelRun(id: "${id}") { id } }`)).body.errors[0].extensions).toMatchObject({
        code: 'FORBIDDEN',
        status: 403,
      });

      const audit = await withClient(t.database, (c) =>
        c.query("SELECT action, target, outcome, error_code FROM audit_entries WHERE action LIKE 'procedure.%' ORDER BY id"),
      );
      expect(audit.rows).toEqual(
        expect.arrayContaining([
          { action: 'procedure.request', target: 'procedure:test.wait', outcome: 'success', error_code: null },
          { action: 'procedure.cancel', target: id, outcome: 'success', error_code: null },
          { action: 'procedure.approve', target: asked.body.data.requestRun.id, outcome: 'denied', error_code: 'FORBIDDEN' },
          { action: 'procedure.approve', target: asked.body.data.requestRun.id, outcome: 'success', error_code: null },
          { action: 'procedure.reject', target: again.body.data.requestRun.id, outcome: 'success', error_code: null },
        ]),
      );
    });

    it('answers bad input with the REST codes and messages, never INTERNAL_SERVER_ERROR', async () => {
      const cases: [string, string, number, string | RegExp][] = [
        [`{ run(id: "nope") { id } }`, 'BAD_USER_INPUT', 400, 'id: must be a UUID'],
        [`{ run(id: "${UNKNOWN}") { id } }`, 'NOT_FOUND', 404, `run ${UNKNOWN} does not exist`],
        [`{ runs(status: "sleeping") { nextCursor } }`, 'BAD_USER_INPUT', 400, /^status: must be one of queued, /],
        [
          `{ runs(procedure: "../etc") { nextCursor } }`,
          'BAD_USER_INPUT',
          400,
          'procedure: must be a procedure id, for example backup.create',
        ],
        [
          `mutation { requestRun(procedureId: "no.such-procedure") { id } }`,
          'NOT_FOUND',
          404,
          'procedure no.such-procedure does not exist; GET /api/v1/procedures lists them',
        ],
        [
          `mutation { requestRun(procedureId: "../etc") { id } }`,
          'BAD_USER_INPUT',
          400,
          'procedureId: must be a procedure id, for example backup.create',
        ],
        [
          `mutation { requestRun(procedureId: "test.wait", input: { parameters: { path: "/etc/passwd" } }) { id } }`,
          'BAD_USER_INPUT',
          400,
          'parameters: unknown parameter(s) path',
        ],
        [
          `mutation { requestRun(procedureId: "test.wait", input: { parameters: { waitMs: -5 } }) { id } }`,
          'BAD_USER_INPUT',
          400,
          /^parameters\.waitMs: /,
        ],
        [
          `mutation { requestRun(procedureId: "test.wait", input: { parameters: "x" }) { id } }`,
          'BAD_USER_INPUT',
          400,
          'parameters: must be a JSON object',
        ],
        [`mutation { approveRun(id: "${UNKNOWN}") { id } }`, 'NOT_FOUND', 404, `run ${UNKNOWN} does not exist`],
        [`mutation { cancelRun(id: "x") { id } }`, 'BAD_USER_INPUT', 400, 'id: must be a UUID'],
      ];
      for (const [query, code, status, message] of cases) {
        const res = await t.gql(as('operator'), query);
        const error = res.body.errors?.[0];
        expect([query, error?.extensions?.code, error?.extensions?.status]).toEqual([query, code, status]);
        expect([query, error.message]).toEqual([query, typeof message === 'string' ? message : expect.stringMatching(message)]);
      }
      // The REST twin of one of them, for the same message.
      const rest = await request('test.wait', { parameters: { path: '/etc/passwd' } });
      expect(rest.body.message).toBe('parameters: unknown parameter(s) path');
    });

    it('streams runEvents over graphql-ws: the same events as SSE, authenticated by JWT or API token', async () => {
      const res = await request('test.wait', { parameters: { waitMs: 800 } });
      const sse = await openSse(`${t.url}/api/v1/runs/${res.body.id}/events`, as('viewer'));
      const events = await subscribe(t.url, { Authorization: `Bearer ${as('viewer')}` }, res.body.id);
      await sse.ended;
      expect(events[0]).toMatchObject({ id: 1, type: 'snapshot', runId: res.body.id, data: { id: res.body.id } });
      expect(events[events.length - 1]).toMatchObject({ type: 'status', data: { status: 'succeeded' } });
      // After its snapshot, the subscription's events are the SSE stream's last ones.
      const gqlTail = events.slice(1).map((e) => JSON.stringify([e.type, e.data]));
      const sseAll = sse.events.map((e) => JSON.stringify([e.event, e.data]));
      expect(gqlTail.length).toBeGreaterThan(0);
      expect(sseAll.slice(-gqlTail.length)).toEqual(gqlTail);

      const created = await t
        .http()
        .post('/api/v1/tokens')
        .set('Authorization', `Bearer ${as('admin')}`)
        .send({ name: 'events-reader', role: 'viewer' });
      expect(created.status).toBe(201);
      const ended = await subscribe(t.url, { Authorization: `Bearer ${created.body.token}` }, res.body.id);
      expect(ended).toEqual([expect.objectContaining({ id: 1, type: 'snapshot', data: expect.objectContaining({ status: 'succeeded' }) })]);
    });

    it('refuses a subscription without a token (close 4401), with a bad token (UNAUTHENTICATED) and for an unknown run (NOT_FOUND)', async () => {
      const none = await subscribe(t.url, undefined, UNKNOWN).catch((e) => e);
      expect({ code: none.code, reason: none.reason }).toEqual({ code: 4401, reason: expect.stringContaining('Authorization') });
      const bad = await subscribe(t.url, { Authorization: 'Bearer not-a-token' }, UNKNOWN).catch((e) => e);
      expect(bad[0]).toMatchObject({
        message: expect.stringMatching(/^access token refused/),
        extensions: { code: 'UNAUTHENTICATED', status: 401 },
      });
      const revoked = await subscribe(t.url, { Authorization: 'Bearer opsk_not_a_real_token' }, UNKNOWN).catch((e) => e);
      expect(revoked[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
      const unknown = await subscribe(t.url, { Authorization: `Bearer ${as('viewer')}` }, UNKNOWN).catch((e) => e);
      expect(unknown[0]).toMatchObject({ message: `run ${UNKNOWN} does not exist`, extensions: { code: 'NOT_FOUND', status: 404 } });
      const badId = await subscribe(t.url, { Authorization: `Bearer ${as('viewer')}` }, 'nope').catch((e) => e);
      expect(badId[0]).toMatchObject({ message: 'runId: must be a UUID', extensions: { code: 'BAD_USER_INPUT', status: 400 } });
      const client = createClient({
        url: t.url.replace(/^http/, 'ws') + '/graphql',
        webSocketImpl: WebSocket,
        connectionParams: { Authorization: `Bearer ${as('viewer')}` },
        retryAttempts: 0,
      });
      const query = await (async () => {
        for await (const result of client.iterate({ query: '{ procedures { id } }' })) return result;
      })().catch((e) => e);
      await client.dispose();
      expect(query[0]).toMatchObject({
        message: 'operation: a query is sent as POST /graphql; this WebSocket serves subscriptions only',
        extensions: { code: 'BAD_USER_INPUT', status: 400 },
      });
      const overHttp = await t.gql(as('viewer'), `subscription { runEvents(runId: "${UNKNOWN}") { id } }`);
      expect(overHttp.body.errors[0]).toMatchObject({
        message: expect.stringMatching(/^runEvents: is a subscription: use graphql-ws/),
        extensions: { code: 'BAD_USER_INPUT', status: 400 },
      });
      const denied = await withClient(t.database, (c) =>
        c.query("SELECT count(*)::int AS n FROM audit_entries WHERE outcome = 'denied' AND action = 'graphql.Subscription.runEvents'"),
      );
      expect(denied.rows[0].n).toBeGreaterThanOrEqual(2);
    });
  });
});
