import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { projectRoot } from '../src/common/paths';
import { declaredRights, rightsSnapshot } from '../src/guards/declared-rights';
import { RIGHTS, Role, ROLES, roleHasRight } from '../src/common/rights';
import { withClient } from './helpers/db';
import { minimalOperation } from './helpers/graphql-calls';
import { startTestApp, TestApp } from './helpers/test-app';

const SNAPSHOT = join(projectRoot(), 'test/snapshots/rights.txt');

describe('escalation rights: every endpoint, every role (REST and GraphQL)', () => {
  let t: TestApp;
  const tokens = new Map<Role, string>();

  before(async () => {
    t = await startTestApp();
    for (const role of ROLES) tokens.set(role, await t.tokenFor(role));
  });
  after(() => t.close());

  it('matches the committed snapshot of declared rights (a changed right is a visible diff)', () => {
    const current = rightsSnapshot(t.app);
    if (process.env.UPDATE_SNAPSHOTS === '1') writeFileSync(SNAPSHOT, current);
    expect(current).toBe(readFileSync(SNAPSHOT, 'utf8'));
  });

  it('declares a right (or @Public) on every endpoint', () => {
    const all = declaredRights(t.app);
    expect(all.length).toBeGreaterThan(10);
    expect(all.filter((d) => d.right === 'UNDECLARED')).toEqual([]);
    expect(
      all
        .filter((d) => d.right === 'public')
        .map((d) => d.endpoint)
        .sort(),
    ).toEqual([
      // The one-click acknowledge link: its signed, single-use token is the credential.
      'GET /api/v1/incidents/ack/:token',
      'GET /health',
      'GET /health/ready',
      'POST /api/v1/auth/login',
      'POST /api/v1/incidents/ack/:token',
    ]);
  });

  it("denies each role below a REST route's right with 403 naming the right and whom to escalate to", async () => {
    let denials = 0;
    for (const d of declaredRights(t.app).filter((d) => d.transport === 'rest' && d.right !== 'public')) {
      const right = d.right as keyof typeof RIGHTS;
      const path = d.path!.replace(/:[a-zA-Z]+/g, '00000000-0000-4000-8000-000000000000');
      for (const role of ROLES) {
        const call = t
          .http()
          [d.method!.toLowerCase() as 'get'](path)
          .set('Authorization', `Bearer ${tokens.get(role)}`);
        const res = ['POST', 'PATCH', 'PUT'].includes(d.method!) ? await call.send({}) : await call;
        const where = `${d.endpoint} as ${role}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
        if (roleHasRight(role, right)) {
          expect([where, res.status !== 403 && res.status !== 401]).toEqual([where, true]);
        } else {
          denials++;
          expect([where, res.status]).toEqual([where, 403]);
          expect(res.body.details).toMatchObject({ requiredRight: right, yourRole: role });
          expect(res.body.details.escalateTo.length).toBeGreaterThan(0);
          expect(res.body.message).toContain(right);
        }
      }
    }
    expect(denials).toBeGreaterThan(0);
  });

  it("denies each role below a GraphQL field's right with FORBIDDEN naming the right", async () => {
    let denials = 0;
    for (const d of declaredRights(t.app).filter((d) => d.transport === 'graphql')) {
      const right = d.right as keyof typeof RIGHTS;
      const query = minimalOperation(t.app, d.field!);
      for (const role of ROLES) {
        const res = await t.gql(tokens.get(role), query);
        const codes = (res.body.errors ?? []).map((e: { extensions: { code: string } }) => e.extensions.code);
        const where = `${d.endpoint} as ${role}: ${JSON.stringify(res.body).slice(0, 300)}`;
        expect([where, codes.includes('GRAPHQL_VALIDATION_FAILED')]).toEqual([where, false]);
        if (roleHasRight(role, right)) {
          expect([where, codes.includes('FORBIDDEN') || codes.includes('UNAUTHENTICATED')]).toEqual([where, false]);
        } else {
          denials++;
          expect([where, codes]).toEqual([where, ['FORBIDDEN']]);
          expect(res.body.errors[0].extensions.details).toMatchObject({ requiredRight: right, yourRole: role });
          expect(res.body.errors[0].extensions.details.escalateTo.length).toBeGreaterThan(0);
        }
      }
    }
    expect(denials).toBeGreaterThan(0);
  });

  it("names the inventory's escalation contacts and response time for a denied P-level right", async () => {
    const res = await t
      .http()
      .post('/api/v1/checklists')
      .set('Authorization', `Bearer ${tokens.get(Role.Viewer)}`);
    expect(res.status).toBe(403);
    expect(res.body.details).toMatchObject({ requiredRight: 'checklist.run', level: 'P3', escalateTo: ['Support'], responseMinutes: 30 });
    expect(res.body.details.rolesWithRight).toEqual(['operator', 'support', 'senior_dev', 'dba', 'admin']);
    // Admin-level rights name the control plane's administrators.
    const admin = await t
      .http()
      .get('/api/v1/users')
      .set('Authorization', `Bearer ${tokens.get(Role.Viewer)}`);
    expect(admin.body.details.escalateTo).toEqual(['Control plane administrator']);
  });

  it('audits every denial with the actor, the action and the right', async () => {
    const rows = await withClient(t.database, (c) =>
      c.query(
        "SELECT actor, actor_role, action, parameters, error_code FROM audit_entries WHERE outcome = 'denied' AND actor_role = 'viewer'",
      ),
    );
    expect(rows.rows.length).toBeGreaterThan(3);
    expect(
      rows.rows.some((r) => r.action === 'GET /api/v1/users' && r.parameters.right === 'users.manage' && r.error_code === 'FORBIDDEN'),
    ).toBe(true);
    expect(rows.rows.some((r) => r.action === 'graphql.Query.users')).toBe(true);
  });
});
