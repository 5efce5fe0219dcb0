import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import * as jwt from 'jsonwebtoken';
import { projectRoot } from '../src/common/paths';
import { Role } from '../src/common/rights';
import { ProcedureRegistry } from '../src/procedures/procedure-registry';
import { withClient } from './helpers/db';
import { requestFrom } from './helpers/from-address';
import { waitingProcedure } from './helpers/procedure-fixtures';
import { PASSWORD, Person, startTestApp, TestApp } from './helpers/test-app';

const ERP_DB = 'erp_quty_karunia_prod';
const JWT_SECRET = 'a-test-signing-secret-that-is-long-enough-0123456789';

async function audited(t: TestApp, where: string, params: unknown[] = []) {
  const res = await withClient(t.database, (c) =>
    c.query(
      `SELECT actor, actor_role, actor_via, action, outcome, error_code, parameters FROM audit_entries WHERE ${where} ORDER BY id`,
      params,
    ),
  );
  return res.rows;
}

describe('a person is a person: API tokens belong to their owner and count as them', () => {
  let t: TestApp;
  let people: Map<string, Person>;
  const as = (who: string) => `Bearer ${people.get(who)!.jwt}`;

  before(async () => {
    t = await startTestApp();
    people = await t.people({
      admin: Role.Admin,
      admin2: Role.Admin,
      senior: Role.SeniorDev,
      dba: Role.Dba,
      operator: Role.Operator,
      viewer: Role.Viewer,
    });
  });
  after(() => t.close());

  const makeToken = async (who: string, body: object) => {
    const res = await t.http().post('/api/v1/tokens').set('Authorization', as(who)).send(body);
    expect(res.status).toBe(201);
    return res.body as { id: string; token: string; owner: string };
  };

  it('an admin cannot approve their own emergency.data-corruption run with an API token they made for themselves', async () => {
    const asked = await t
      .http()
      .post('/api/v1/procedures/emergency.data-corruption/runs')
      .set('Authorization', as('admin'))
      .send({ confirm: ERP_DB });
    expect(asked.status).toBe(201);
    expect(asked.body).toMatchObject({ status: 'awaiting_approval', requestedBy: people.get('admin')!.username });
    // The second identity of the same person: a token of the dba role, made by the admin.
    const second = await makeToken('admin', { name: 'my-dba-self', role: 'dba' });
    expect(second.owner).toBe(people.get('admin')!.username);
    const approve = await t.http().post(`/api/v1/runs/${asked.body.id}/approve`).set('Authorization', `Bearer ${second.token}`);
    expect(approve.status).toBe(403);
    expect(approve.body.message).toMatch(/two-person rule.*through the API token my-dba-self/);
    const gql = await t.gql(second.token, `mutation { approveRun(id: "${asked.body.id}") { id status } }`);
    expect(gql.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN' });
    const run = await t.http().get(`/api/v1/runs/${asked.body.id}`).set('Authorization', as('viewer'));
    expect(run.body).toMatchObject({ status: 'awaiting_approval', approvedBy: null });
    // Audited as denied, naming the person and the token they acted through.
    const denials = await audited(t, "action = 'procedure.approve' AND outcome = 'denied'");
    expect(denials).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: people.get('admin')!.username, actor_via: 'token:my-dba-self', error_code: 'FORBIDDEN' }),
      ]),
    );
    // A real second person of the complementary role decides; rejecting it keeps the test from acting on anything.
    const rejected = await t.http().post(`/api/v1/runs/${asked.body.id}/reject`).set('Authorization', as('dba'));
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ status: 'rejected', approvedBy: people.get('dba')!.username });
  });

  it('two tokens of one person are one person: requested through one, approved through the other, refused', async () => {
    t.app
      .get(ProcedureRegistry)
      .register(waitingProcedure('test.p1db', { requiresApproval: true, severity: 'P1', domain: 'database', confirm: ERP_DB }));
    const first = await makeToken('dba', { name: 'dba-script-a', role: 'dba' });
    const second = await makeToken('dba', { name: 'dba-script-b', role: 'dba' });
    const asked = await t
      .http()
      .post('/api/v1/procedures/test.p1db/runs')
      .set('Authorization', `Bearer ${first.token}`)
      .send({ confirm: ERP_DB });
    expect(asked.status).toBe(201);
    expect(asked.body.requestedBy).toBe(people.get('dba')!.username);
    const refused = await t.http().post(`/api/v1/runs/${asked.body.id}/approve`).set('Authorization', `Bearer ${second.token}`);
    expect(refused.status).toBe(403);
    const bySignIn = await t.http().post(`/api/v1/runs/${asked.body.id}/approve`).set('Authorization', as('dba'));
    expect(bySignIn.status).toBe(403);
    // The complementary role, a different person, approves.
    const approved = await t.http().post(`/api/v1/runs/${asked.body.id}/approve`).set('Authorization', as('senior'));
    expect(approved.status).toBe(200);
    expect(approved.body.approvedBy).toBe(people.get('senior')!.username);
  });

  it('a token never carries more rights than its owner: refused at creation, and refused at use once the owner is demoted or disabled', async () => {
    const tooHigh = await t.http().post('/api/v1/tokens').set('Authorization', as('senior')).send({ name: 'want-dba', role: 'dba' });
    expect(tooHigh.status).toBe(403);
    expect(tooHigh.body.message).toMatch(/never carries more rights than its owner: senior_dev cannot make a dba token/);
    expect(
      (await t.http().post('/api/v1/tokens').set('Authorization', as('viewer')).send({ name: 'want-op', role: 'operator' })).status,
    ).toBe(403);
    const own = await makeToken('operator', { name: 'op-script', role: 'operator' });
    expect((await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${own.token}`)).body).toMatchObject({
      kind: 'token',
      username: people.get('operator')!.username,
      userId: people.get('operator')!.id,
      role: 'operator',
      via: 'token:op-script',
    });
    // The owner demoted to viewer: the operator token stops working.
    const operator = people.get('operator')!;
    expect((await t.http().patch(`/api/v1/users/${operator.id}`).set('Authorization', as('admin')).send({ role: 'viewer' })).status).toBe(
      200,
    );
    const demoted = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${own.token}`);
    expect(demoted.status).toBe(401);
    expect(demoted.body.message).toMatch(/role operator exceeds its owner's current role viewer/);
    await t.http().patch(`/api/v1/users/${operator.id}`).set('Authorization', as('admin')).send({ role: 'operator' });
    expect((await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${own.token}`)).status).toBe(200);
    // The owner disabled: refused, and the refusal is audited.
    await t.http().patch(`/api/v1/users/${operator.id}`).set('Authorization', as('admin')).send({ disabled: true });
    const disabled = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${own.token}`);
    expect(disabled.status).toBe(401);
    expect(disabled.body.message).toMatch(/owner .* is disabled/);
    expect(await audited(t, "outcome = 'denied' AND parameters->>'reason' LIKE '%is disabled%'")).not.toHaveLength(0);
    await t.http().patch(`/api/v1/users/${operator.id}`).set('Authorization', as('admin')).send({ disabled: false });
  });

  it("no person can take a name the control plane acts under (the scheduler's runs have no requester to impersonate)", async () => {
    for (const username of ['scheduler', 'system', 'anonymous']) {
      const res = await t
        .http()
        .post('/api/v1/users')
        .set('Authorization', as('admin'))
        .send({ username, password: PASSWORD, role: 'dba' });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/reserved for the control plane itself/);
    }
  });

  it('a token cannot make tokens (a leaked token cannot mint itself a longer-lived heir)', async () => {
    const admin = await makeToken('admin', { name: 'admin-script', role: 'admin' });
    const res = await t
      .http()
      .post('/api/v1/tokens')
      .set('Authorization', `Bearer ${admin.token}`)
      .send({ name: 'heir', role: 'admin', expiresInDays: 365 });
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/created by a person signed in with a password/);
  });

  it('listings show the owner; without tokens.manage a person sees and revokes only their own', async () => {
    const mine = await makeToken('viewer', { name: 'viewer-own', role: 'viewer' });
    const theirs = await makeToken('admin2', { name: 'admin2-own', role: 'viewer' });
    const list = await t.http().get('/api/v1/tokens').set('Authorization', as('viewer'));
    expect(list.status).toBe(200);
    expect(list.body.items.map((i: { id: string }) => i.id)).toEqual([mine.id]);
    expect(list.body.items[0]).toMatchObject({ owner: people.get('viewer')!.username, ownerId: people.get('viewer')!.id, kind: 'user' });
    expect(
      (
        await t
          .http()
          .get('/api/v1/tokens')
          .query({ owner: people.get('admin2')!.username })
          .set('Authorization', as('viewer'))
      ).status,
    ).toBe(403);
    expect((await t.http().delete(`/api/v1/tokens/${theirs.id}`).set('Authorization', as('viewer'))).status).toBe(404);
    const all = await t
      .http()
      .get('/api/v1/tokens')
      .query({ owner: people.get('admin2')!.username })
      .set('Authorization', as('admin'));
    expect(all.body.items.map((i: { owner: string }) => i.owner)).toEqual([people.get('admin2')!.username]);
    expect((await t.http().delete(`/api/v1/tokens/${mine.id}`).set('Authorization', as('viewer'))).status).toBe(200);
  });

  it('a service identity delivers alerts and nothing else, and can never approve', async () => {
    expect(
      (
        await t
          .http()
          .post('/api/v1/tokens')
          .set('Authorization', as('senior'))
          .send({ name: 'am', kind: 'service', scopes: ['alerts.receive'] })
      ).status,
    ).toBe(403);
    expect(
      (
        await t
          .http()
          .post('/api/v1/tokens')
          .set('Authorization', as('admin'))
          .send({ name: 'am', kind: 'service', scopes: ['procedures.run'] })
      ).status,
    ).toBe(400);
    const service = await makeToken('admin', { name: 'alertmanager', kind: 'service', scopes: ['alerts.receive'] });
    expect(service.owner).toBeNull();
    const delivered = await t
      .http()
      .post('/api/v1/alerts/webhook')
      .set('Authorization', `Bearer ${service.token}`)
      .send({
        version: '4',
        groupKey: '{}:{alertname="X"}',
        status: 'firing',
        receiver: 'ops',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'X' },
            startsAt: '2026-01-19T02:00:00Z',
            endsAt: '0001-01-01T00:00:00Z',
            fingerprint: 'abc123',
          },
        ],
      });
    expect(delivered.status).toBe(200);
    expect((await audited(t, "action = 'alerts.webhook' AND outcome = 'success'"))[0]).toMatchObject({
      actor: 'service:alertmanager',
      actor_role: 'service',
    });
    t.app.get(ProcedureRegistry).register(waitingProcedure('test.p3approval', { requiresApproval: true }));
    const asked = await t.http().post('/api/v1/procedures/test.p3approval/runs').set('Authorization', as('operator')).send({});
    for (const path of [
      `/api/v1/runs/${asked.body.id}/approve`,
      `/api/v1/runs/${asked.body.id}/reject`,
      `/api/v1/runs/${asked.body.id}/cancel`,
    ]) {
      const res = await t.http().post(path).set('Authorization', `Bearer ${service.token}`);
      expect(res.status).toBe(403);
      expect(res.body.message).toMatch(/service identity service:alertmanager may only alerts.receive/);
    }
    expect((await t.http().get('/api/v1/runs').set('Authorization', `Bearer ${service.token}`)).status).toBe(403);
    expect((await t.gql(service.token, '{ me { username } }')).body.errors[0].extensions.code).toBe('FORBIDDEN');
  });
});

describe('cancel, reject and approve need the rights the runbook implies', () => {
  let t: TestApp;
  let people: Map<string, Person>;
  const as = (who: string) => `Bearer ${people.get(who)!.jwt}`;

  before(async () => {
    t = await startTestApp();
    const registry = t.app.get(ProcedureRegistry);
    registry.register(waitingProcedure('test.p1sys', { requiresApproval: true, severity: 'P1', domain: 'system', confirm: ERP_DB }));
    registry.register(waitingProcedure('test.p1db.long', { severity: 'P1', domain: 'database', waitMs: 60_000 }));
    people = await t.people({ senior: Role.SeniorDev, senior2: Role.SeniorDev, dba: Role.Dba, operator: Role.Operator });
  });
  after(() => t.close());

  const ask = (id: string, who: string, body: object = { confirm: ERP_DB }) =>
    t.http().post(`/api/v1/procedures/${id}/runs`).set('Authorization', as(who)).send(body);
  const status = async (id: string) => (await t.http().get(`/api/v1/runs/${id}`).set('Authorization', as('operator'))).body.status;

  it('an operator (P3) cannot cancel a P1 run, nor can a role one level too low; the requester and a P1 holder can; every refusal is audited denied', async () => {
    const asked = await ask('test.p1sys', 'senior');
    expect(asked.status).toBe(201);
    const id = asked.body.id;
    const byOperator = await t.http().post(`/api/v1/runs/${id}/cancel`).set('Authorization', as('operator'));
    expect(byOperator.status).toBe(403);
    expect(byOperator.body.message).toMatch(/operator may not cancel run .*: it is a P1 system run/);
    expect(byOperator.body.details).toMatchObject({ level: 'P1', domain: 'system', rolesWithRight: ['senior_dev', 'admin'] });
    // dba holds P2 on the system: one level too low.
    expect((await t.http().post(`/api/v1/runs/${id}/cancel`).set('Authorization', as('dba'))).status).toBe(403);
    const gql = await t.gql(people.get('operator')!.jwt, `mutation { cancelRun(id: "${id}") { status } }`);
    expect(gql.body.errors[0].extensions.code).toBe('FORBIDDEN');
    const rejectByOperator = await t.http().post(`/api/v1/runs/${id}/reject`).set('Authorization', as('operator'));
    expect(rejectByOperator.status).toBe(403);
    expect(await status(id)).toBe('awaiting_approval');
    const denied = await audited(t, "target = $1 AND outcome = 'denied'", [id]);
    expect(denied.map((d) => d.action).sort()).toEqual(['procedure.cancel', 'procedure.cancel', 'procedure.cancel', 'procedure.reject']);
    // Another person holding P1 on the system may cancel it.
    const bySenior = await t.http().post(`/api/v1/runs/${id}/cancel`).set('Authorization', as('senior2'));
    expect(bySenior.status).toBe(200);
    expect(bySenior.body.status).toBe('cancelled');
    // The requester may withdraw their own request, also through their token.
    const again = await ask('test.p1sys', 'senior');
    const token = await t
      .http()
      .post('/api/v1/tokens')
      .set('Authorization', as('senior'))
      .send({ name: 'senior-script', role: 'operator' });
    const own = await t.http().post(`/api/v1/runs/${again.body.id}/cancel`).set('Authorization', `Bearer ${token.body.token}`);
    expect(own.status).toBe(200);
    expect(own.body.status).toBe('cancelled');
  });

  it('cancelling a running P1 database run needs P1 on the database: a senior_dev (P2 there) is refused and the run goes on', async () => {
    const asked = await ask('test.p1db.long', 'dba', {});
    expect(asked.status).toBe(201);
    const id = asked.body.id;
    for (let end = Date.now() + 10_000; Date.now() < end && (await status(id)) !== 'running';) await new Promise((r) => setTimeout(r, 50));
    expect(await status(id)).toBe('running');
    const refused = await t.http().post(`/api/v1/runs/${id}/cancel`).set('Authorization', as('senior'));
    expect(refused.status).toBe(403);
    expect(await status(id)).toBe('running');
    const cancelled = await t.http().post(`/api/v1/runs/${id}/cancel`).set('Authorization', as('dba'));
    expect(cancelled.status).toBe(200);
  });
});

describe('access tokens: a usable subject, an expiry, and the session they came from', () => {
  let t: TestApp;
  let user: { id: string; username: string };
  let admin: string;

  before(async () => {
    t = await startTestApp({ env: { OPS_JWT_SECRET: JWT_SECRET } });
    user = await t.createUser(Role.Operator);
    admin = await t.tokenFor(Role.Admin);
  });
  after(() => t.close());

  const mint = (claims: Record<string, unknown>, options: jwt.SignOptions = { expiresIn: 300 }) =>
    jwt.sign(claims, JWT_SECRET, { algorithm: 'HS256', keyid: 'env', issuer: 'erp-ops-control-plane', audience: 'erp-ops', ...options });
  const me = (token: string) => t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`);

  it('a token that verifies but names no usable subject is a 401 (not a 503), audited', async () => {
    const cases: [string, string, RegExp][] = [
      ['no subject', mint({ sv: 0, username: 'x', role: 'admin' }), /no usable subject/],
      ['a subject that is not a user id', mint({ sub: 'admin', sv: 0, username: 'admin', role: 'admin' }), /no usable subject/],
      ['a numeric subject', mint({ sub: 12345, sv: 0 } as never), /no usable subject/],
      ['a user that does not exist', mint({ sub: randomUUID(), sv: 0, username: 'ghost', role: 'admin' }), /no longer exists/],
      ['no expiry', mint({ sub: user.id, sv: 0, username: user.username, role: 'operator' }, {}), /no expiry/],
      ['a lifetime longer than the control plane issues', mint({ sub: user.id, sv: 0 }, { expiresIn: 86_400 * 365 }), /lives longer/],
      ['no session version', mint({ sub: user.id, username: user.username, role: 'operator' }), /no session version/],
    ];
    for (const [name, token, reason] of cases) {
      const res = await me(token);
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
      expect(res.body.message).toMatch(reason);
    }
    const denials = await audited(t, "outcome = 'denied' AND error_code = 'UNAUTHENTICATED' AND action = 'GET /api/v1/auth/me'");
    expect(denials.length).toBeGreaterThanOrEqual(cases.length);
  });

  it('a password change, a role change and a disable each end the access tokens issued before', async () => {
    const patch = (body: object) => t.http().patch(`/api/v1/users/${user.id}`).set('Authorization', `Bearer ${admin}`).send(body);
    const change = async (body: object) => {
      const token = await t.login(user.username);
      expect((await me(token)).status).toBe(200);
      expect((await patch(body)).status).toBe(200);
      const after = await me(token);
      expect(after.status).toBe(401);
      expect(after.body.message).toMatch(/session ended/);
    };
    await change({ role: 'support' });
    await change({ password: PASSWORD });
    // Disabled, then enabled again: a token from before the disable does not come back to life.
    const before = await t.login(user.username);
    expect((await patch({ disabled: true })).status).toBe(200);
    expect((await me(before)).status).toBe(401);
    expect((await patch({ disabled: false })).status).toBe(200);
    const revived = await me(before);
    expect(revived.status).toBe(401);
    expect(revived.body.message).toMatch(/session ended/);
    // A fresh sign-in works again.
    expect((await me(await t.login(user.username))).status).toBe(200);
  });
});

describe('GraphQL: every operation goes through the guard, and variables count', () => {
  let t: TestApp;
  let token: string;
  before(async () => {
    t = await startTestApp({ env: { OPS_GRAPHQL_INTROSPECTION: 'true', OPS_GRAPHQL_MAX_COST: '300', OPS_RATE_LIMIT_PER_MINUTE: '8' } });
    token = await t.tokenFor(Role.Admin);
  });
  after(() => t.close());

  it('counts page sizes sent as variables like literals', async () => {
    const query = 'query($n: Int) { auditEntries(limit: $n) { items { id actor action outcome } } }';
    const costly = await t.gql(token, query, { n: 200 });
    expect(costly.status).toBe(400);
    expect(costly.body.errors[0].message).toMatch(/query cost \d+ exceeds the limit of 300/);
    const byDefault = await t.gql(token, 'query($n: Int = 200) { auditEntries(limit: $n) { items { id actor action outcome } } }');
    expect(byDefault.status).toBe(400);
    expect((await t.gql(token, query, { n: 5 })).body.errors).toBeUndefined();
  });

  it('refuses introspection and __typename-only requests without a token (401), and rate limits them', async () => {
    const anonymous = await t.gql(undefined, '{ __typename }');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
    const schema = await t.gql(undefined, '{ __schema { queryType { name } } }');
    expect(schema.status).toBe(401);
    expect((await t.gql(token, '{ __schema { queryType { name } } }')).body.data.__schema.queryType.name).toBe('Query');
    // Signed in, __typename-only operations count against the caller's rate limit like any other.
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await t.gql(token, '{ __typename }')).status);
    expect(statuses).toContain(429);
  });

  it('introspection needs graphql.introspect: a service identity is refused; anonymous only when OPS_GRAPHQL_PUBLIC_INTROSPECTION', async () => {
    const other = await startTestApp({ env: { OPS_GRAPHQL_INTROSPECTION: 'true', OPS_GRAPHQL_PUBLIC_INTROSPECTION: 'true' } });
    try {
      const admin = await other.tokenFor(Role.Admin);
      const service = await other
        .http()
        .post('/api/v1/tokens')
        .set('Authorization', `Bearer ${admin}`)
        .send({ name: 'am', kind: 'service', scopes: ['alerts.receive'] });
      const refused = await other.gql(service.body.token, '{ __schema { queryType { name } } }');
      expect(refused.status).toBe(403);
      expect(refused.body.errors[0].message).toMatch(/graphql.introspect/);
      expect((await other.gql(undefined, '{ __schema { queryType { name } } }')).body.data.__schema.queryType.name).toBe('Query');
      // Public introspection does not open anything else.
      expect((await other.gql(undefined, '{ __typename me { username } }')).status).toBe(401);
    } finally {
      await other.close();
    }
  });
});

describe('lockout without a denial-of-service lever (real client addresses on the loopback)', () => {
  let t: TestApp;
  const login = (from: string, username: string, password: string) =>
    requestFrom(from, t.url, 'POST', '/api/v1/auth/login', { username, password });

  before(async () => {
    t = await startTestApp({
      env: {
        OPS_LOGIN_MAX_FAILURES: '3',
        OPS_LOGIN_ADDRESS_MAX_FAILURES: '6',
        OPS_LOGIN_ACCOUNT_MAX_FAILURES: '5',
        OPS_LOGIN_TRUSTED_ADDRESSES: '127.0.0.50,127.0.1.0/24',
      },
    });
  });
  after(() => t.close());

  it('failures from one address lock that address out of the account, not the account itself', async () => {
    const admin = await t.createUser(Role.Admin);
    for (let i = 0; i < 3; i++) expect((await login('127.0.0.2', admin.username, `wrong-${i}`)).status).toBe(401);
    const attacker = await login('127.0.0.2', admin.username, PASSWORD);
    expect(attacker.status).toBe(429);
    expect(attacker.body.details.scope).toBe('account-address');
    expect(Number(attacker.headers['retry-after'])).toBeGreaterThan(0);
    // The admin, elsewhere, signs in.
    expect((await login('127.0.0.3', admin.username, PASSWORD)).status).toBe(200);
  });

  it('an address that fails too often is blocked before any account is locked', async () => {
    const victims = [await t.createUser(Role.Viewer), await t.createUser(Role.Viewer), await t.createUser(Role.Viewer)];
    let blocked = 0;
    for (let i = 0; i < 9; i++) {
      const res = await login('127.0.0.4', victims[i % 3].username, `guess-${i}`);
      if (res.status === 429 && res.body.details.scope === 'address') blocked++;
    }
    expect(blocked).toBeGreaterThan(0);
    expect((await login('127.0.0.4', victims[0].username, PASSWORD)).body.details.scope).toBe('address');
    for (const victim of victims) expect((await login('127.0.0.5', victim.username, PASSWORD)).status).toBe(200);
  });

  it('an account attacked from many addresses is locked, yet signs in from a trusted address; the recovery command unlocks it', async () => {
    const admin = await t.createUser(Role.Admin);
    for (const from of ['127.0.0.6', '127.0.0.7', '127.0.0.8']) for (let i = 0; i < 2; i++) await login(from, admin.username, `spray-${i}`);
    const locked = await login('127.0.0.9', admin.username, PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body.details.scope).toBe('account');
    expect((await login('127.0.0.50', admin.username, PASSWORD)).status).toBe(200);
    expect((await login('127.0.1.7', admin.username, PASSWORD)).status).toBe(200);
    // npm run user -- unlock --username … (the command, against the same database and Redis).
    const cli = spawnSync(process.execPath, [join(projectRoot(), 'dist/src/cli/user.js'), 'unlock', '--username', admin.username], {
      env: { ...process.env, ...t.env, OPS_MIGRATE_ON_START: 'false', OPS_INVENTORY: join(projectRoot(), 'ops.example.yaml') },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    expect(cli.stdout).toContain(`${admin.username} unlocked`);
    expect((await login('127.0.0.9', admin.username, PASSWORD)).status).toBe(200);
  });
});
