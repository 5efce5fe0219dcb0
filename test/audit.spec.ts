import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../src/guards/rights';
import { withClient } from './helpers/db';
import { startTestApp, TestApp } from './helpers/test-app';

describe('audit trail: append-only, hash-chained, verifiable', () => {
  let t: TestApp;
  let admin: string;
  let viewer: string;

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor(Role.Admin);
    viewer = await t.tokenFor(Role.Viewer);
  });
  after(() => t.close());

  const audit = (query: Record<string, string | number> = {}) => t.http().get('/api/v1/audit').query(query).set('Authorization', `Bearer ${admin}`);

  it('writes an entry for each change, with parameters but never secrets', async () => {
    const created = await t.http().post('/api/v1/users').set('Authorization', `Bearer ${admin}`).send({ username: 'new.nina', password: 'a-very-secret-password', role: 'operator' });
    expect(created.status).toBe(201);
    const token = await t.http().post('/api/v1/tokens').set('Authorization', `Bearer ${admin}`).send({ name: 'audited', role: 'viewer' });
    const res = await audit({ action: 'users.create' });
    expect(res.status).toBe(200);
    const entry = res.body.items[0];
    expect(entry).toMatchObject({ action: 'users.create', outcome: 'success', actorRole: 'admin' });
    expect(entry.parameters).toMatchObject({ username: 'new.nina', role: 'operator', password: '****' });
    expect(entry.requestId).toBeTruthy();
    expect(entry.clientAddress).toBeTruthy();
    expect(entry.hash).toMatch(/^[0-9a-f]{64}$/);
    const all = JSON.stringify((await audit({ limit: 200 })).body);
    expect(all).not.toContain('a-very-secret-password');
    expect(all).not.toContain(token.body.token);
    // Logins are audited too, with the password masked.
    const logins = (await audit({ action: 'auth.login', outcome: 'success' })).body.items;
    expect(logins.length).toBeGreaterThan(0);
    expect(logins[0].parameters.password).toBe('****');
  });

  it('writes an entry for each denied attempt (no token, bad token, missing right)', async () => {
    await t.http().get('/api/v1/users');
    await t.http().get('/api/v1/users').set('Authorization', 'Bearer not.a.jwt');
    await t.http().get('/api/v1/users').set('Authorization', `Bearer ${viewer}`);
    await t.http().post('/api/v1/auth/login').send({ username: 'new.nina', password: 'wrong-password!' });
    const denied = (await audit({ outcome: 'denied', action: 'GET /api/v1/users' })).body.items;
    const reasons = denied.map((e: { parameters: { reason: string }; errorCode: string }) => `${e.errorCode}:${e.parameters.reason}`);
    expect(reasons).toEqual(expect.arrayContaining(['UNAUTHENTICATED:NO_TOKEN', 'FORBIDDEN:RIGHT_REQUIRED']));
    expect(reasons.some((r: string) => r.startsWith('UNAUTHENTICATED:jwt malformed') || r.startsWith('UNAUTHENTICATED:'))).toBe(true);
    expect(denied.length).toBeGreaterThanOrEqual(3);
    const failedLogin = (await audit({ action: 'auth.login', outcome: 'failure' })).body.items[0];
    expect(failedLogin).toMatchObject({ actor: 'new.nina', errorCode: 'INVALID_CREDENTIALS' });
  });

  it('filters by actor, action, outcome and time, and pages with a cursor', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const mine = await audit({ actor: 'new.nina', from: since });
    expect(mine.body.items.every((e: { actor: string }) => e.actor === 'new.nina')).toBe(true);
    const future = await audit({ from: new Date(Date.now() + 3_600_000).toISOString() });
    expect(future.body.items).toEqual([]);
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await audit({ limit: 3, ...(cursor ? { cursor } : {}) });
      ids.push(...page.body.items.map((e) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    const total = await withClient(t.database, (c) => c.query('SELECT count(*)::int AS n FROM audit_entries'));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(total.rows[0].n - 2); // the listing itself is not audited; a few may be added meanwhile
    expect([...ids].map(Number)).toEqual([...ids].map(Number).sort((a, b) => b - a));
    const gql = await t.gql(admin, '{ auditEntries(limit: 2, outcome: "denied") { items { id outcome } nextCursor } }');
    expect(gql.body.data.auditEntries.items).toHaveLength(2);
    expect(gql.body.data.auditEntries.items.every((e: { outcome: string }) => e.outcome === 'denied')).toBe(true);
  });

  it('keeps the chain valid whatever a client sends (a name of emoji cut at the length limit)', async () => {
    const other = await startTestApp();
    try {
      const username = `a${'😀'.repeat(63)}`;
      const res = await other.http().post('/api/v1/auth/login').send({ username, password: 'wrong-password-here' });
      expect(res.status).toBe(401);
      const token = await other.tokenFor(Role.Admin);
      const verify = await other.http().get('/api/v1/audit/verify').set('Authorization', `Bearer ${token}`);
      expect(verify.body).toMatchObject({ valid: true, firstBrokenId: null });
    } finally {
      await other.close();
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE in the database itself', async () => {
    await withClient(t.database, async (c) => {
      await expect(c.query("UPDATE audit_entries SET actor = 'mallory' WHERE id = 1")).rejects.toThrow(/append-only/);
      await expect(c.query('DELETE FROM audit_entries WHERE id = 1')).rejects.toThrow(/append-only/);
      await expect(c.query('TRUNCATE audit_entries')).rejects.toThrow(/append-only/);
    });
  });

  it('verifies the chain, and finds an entry altered behind the application\'s back', async () => {
    const good = await t.http().get('/api/v1/audit/verify').set('Authorization', `Bearer ${admin}`);
    expect(good.body).toMatchObject({ valid: true, firstBrokenId: null });
    expect(good.body.checked).toBeGreaterThan(5);
    const victim = await withClient(t.database, (c) => c.query("SELECT id FROM audit_entries WHERE action = 'users.create' LIMIT 1"));
    const id = victim.rows[0].id as string;
    await withClient(t.database, async (c) => {
      await c.query('ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update_delete');
      await c.query(`UPDATE audit_entries SET parameters = jsonb_set(parameters, '{role}', '"admin"') WHERE id = $1`, [id]);
      await c.query('ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_no_update_delete');
    });
    const bad = await t.http().get('/api/v1/audit/verify').set('Authorization', `Bearer ${admin}`);
    expect(bad.body).toMatchObject({ valid: false, firstBrokenId: id });
    const gql = await t.gql(admin, '{ auditVerify { valid firstBrokenId } }');
    expect(gql.body.data.auditVerify).toEqual({ valid: false, firstBrokenId: id });
  });

  it('finds a deleted entry by the broken link', async () => {
    const other = await startTestApp();
    try {
      const token = await other.tokenFor(Role.Admin);
      for (let i = 0; i < 3; i++) await other.http().post('/api/v1/tokens').set('Authorization', `Bearer ${token}`).send({ name: `n${i}`, role: 'viewer' });
      const rows = await withClient(other.database, (c) => c.query('SELECT id FROM audit_entries ORDER BY id'));
      const middle = rows.rows[Math.floor(rows.rows.length / 2)].id as string;
      const next = rows.rows[Math.floor(rows.rows.length / 2) + 1].id as string;
      await withClient(other.database, async (c) => {
        await c.query('ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_update_delete');
        await c.query('DELETE FROM audit_entries WHERE id = $1', [middle]);
        await c.query('ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_no_update_delete');
      });
      const res = await other.http().get('/api/v1/audit/verify').set('Authorization', `Bearer ${token}`);
      expect(res.body).toMatchObject({ valid: false, firstBrokenId: next });
    } finally {
      await other.close();
    }
  });
});
