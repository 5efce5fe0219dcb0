import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import * as jwt from 'jsonwebtoken';
import { Role } from '../src/common/rights';
import { MasterKey } from '../src/config/master-key';
import { entryHash, entryMac } from '../src/audit/canonical';
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

  const audit = (query: Record<string, string | number> = {}) =>
    t.http().get('/api/v1/audit').query(query).set('Authorization', `Bearer ${admin}`);

  it('writes an entry for each change, with parameters but never secrets', async () => {
    const created = await t
      .http()
      .post('/api/v1/users')
      .set('Authorization', `Bearer ${admin}`)
      .send({ username: 'new.nina', password: 'a-very-secret-password', role: 'operator' });
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
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await audit({
        limit: 3,
        ...(cursor ? { cursor } : {}),
      });
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

  it("verifies the chain, and finds an entry altered behind the application's back", async () => {
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
      for (let i = 0; i < 3; i++)
        await other
          .http()
          .post('/api/v1/tokens')
          .set('Authorization', `Bearer ${token}`)
          .send({ name: `n${i}`, role: 'viewer' });
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

describe("audit trail against the database's owner: a keyed chain and anchors outside the database", () => {
  let t: TestApp;
  let admin: string;

  before(async () => {
    t = await startTestApp({ env: { OPS_AUDIT_ANCHOR_SECONDS: '1' } });
    admin = await t.tokenFor(Role.Admin);
    // The scraper's viewer is made now, not between reading the head and its anchor.
    await t.scrape();
  });
  after(() => t.close());

  const verify = async () => (await t.http().get('/api/v1/audit/verify').set('Authorization', `Bearer ${admin}`)).body;
  const head = async () =>
    (await withClient(t.database, (c) => c.query('SELECT id::text AS id, hash FROM audit_entries ORDER BY id DESC LIMIT 1'))).rows[0] as {
      id: string;
      hash: string;
    };
  const metric = async (name: string) => {
    const text = (await t.scrape()).text;
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : null;
  };
  /** Waits until the anchor (file and /metrics) covers the entry. */
  const anchoredUpTo = async (id: string) => {
    for (let end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      if (Number((await metric('ops_audit_anchor_entry_id')) ?? 0) >= Number(id)) return;
    }
    throw new Error(`entry ${id} was not anchored`);
  };
  /** The database's owner at work: triggers bypassed the way a superuser can. */
  const asSuperuser = (sql: (c: import('pg').Client) => Promise<unknown>) =>
    withClient(t.database, async (c) => {
      await c.query("SET session_replication_role = 'replica'");
      await sql(c);
    });
  const mutate = async (n: number) => {
    for (let i = 0; i < n; i++)
      await t
        .http()
        .post('/api/v1/tokens')
        .set('Authorization', `Bearer ${admin}`)
        .send({ name: `x${Date.now()}${i}`, role: 'viewer' });
  };

  it('anchors the head outside the database: a signed line in the anchor file, a log line and /metrics', async () => {
    await mutate(2);
    const last = await head();
    await anchoredUpTo(last.id);
    const lines = readFileSync(t.env.OPS_AUDIT_ANCHOR_FILE, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ id: last.id, hash: last.hash, mac: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(await metric('ops_audit_anchor_hash48')).toBe(Number.parseInt(last.hash.slice(0, 12), 16));
    expect(t.logs.some((l) => l.includes('audit chain anchored') && l.includes(last.hash))).toBe(true);
    expect(await verify()).toMatchObject({ valid: true, truncated: null, anchorMismatches: [], brokenRanges: [] });
  });

  it('names a truncated tail: the newest entries deleted by a superuser with the trigger bypassed (session_replication_role)', async () => {
    await mutate(4);
    const last = await head();
    await anchoredUpTo(last.id);
    const keep = (Number(last.id) - 3).toString();
    await asSuperuser((c) => c.query('DELETE FROM audit_entries WHERE id > $1', [keep]));
    const result = await verify();
    expect(result.valid).toBe(false);
    expect(result.brokenRanges).toEqual([]); // what is left is a perfectly linked chain: only the anchor tells
    expect(result.truncated).toMatchObject({ lastEntryId: keep, anchoredEntryId: last.id });
    expect(result.problems.join('\n')).toMatch(new RegExp(`ends at entry ${keep} but entry ${last.id} was anchored`));
  });

  it('names a rewritten range: an entry changed and every later hash recomputed, with SHA-256 as before or with a guessed key', async () => {
    const other = await startTestApp();
    try {
      const token = await other.tokenFor(Role.Admin);
      for (let i = 0; i < 6; i++)
        await other
          .http()
          .post('/api/v1/tokens')
          .set('Authorization', `Bearer ${token}`)
          .send({ name: `r${i}`, role: 'viewer' });
      const entries = (await withClient(other.database, (c) => c.query('SELECT * FROM audit_entries ORDER BY id'))).rows;
      const victim = entries[Math.floor(entries.length / 2)];
      for (const variant of ['sha256', 'guessed-key'] as const) {
        // Rewrite the victim's parameters, then recompute it and every later entry, as the owner of the database can.
        await withClient(other.database, async (c) => {
          await c.query("SET session_replication_role = 'replica'");
          const rows = (await c.query('SELECT * FROM audit_entries WHERE id >= $1 ORDER BY id', [victim.id])).rows;
          let prev = rows[0].prev_hash as string;
          const guessed = randomBytes(32);
          for (const row of rows) {
            const fields = {
              id: row.id,
              at: row.at,
              actor: row.actor,
              actorRole: row.actor_role,
              actorVia: row.actor_via,
              action: row.action,
              target: row.target,
              parameters: row.id === victim.id ? { ...row.parameters, role: 'admin', forged: true } : row.parameters,
              outcome: row.outcome,
              errorCode: row.error_code,
              requestId: row.request_id,
              clientAddress: row.client_address,
              chainVersion: 2,
            };
            const hash = variant === 'sha256' ? entryHash(prev, fields) : entryMac(guessed, prev, fields);
            await c.query('UPDATE audit_entries SET parameters = $2, prev_hash = $3, hash = $4, chain_version = $5 WHERE id = $1', [
              row.id,
              fields.parameters,
              prev,
              hash,
              variant === 'sha256' ? 1 : 2,
            ]);
            prev = hash;
          }
        });
        const res = (await other.http().get('/api/v1/audit/verify').set('Authorization', `Bearer ${token}`)).body;
        const last = (await withClient(other.database, (c) => c.query('SELECT max(id)::text AS id FROM audit_entries'))).rows[0].id;
        expect({ variant, valid: res.valid, firstBrokenId: res.firstBrokenId, brokenRanges: res.brokenRanges }).toEqual({
          variant,
          valid: false,
          firstBrokenId: victim.id,
          brokenRanges: [{ fromId: victim.id, toId: last }],
        });
      }
    } finally {
      await other.close();
    }
  });

  it('a dump of the database cannot mint tokens: signing keys are stored encrypted with the master key', async () => {
    const rows = (await withClient(t.database, (c) => c.query('SELECT * FROM signing_keys'))).rows;
    expect(rows.length).toBeGreaterThan(0);
    expect(Object.keys(rows[0])).not.toContain('secret');
    const user = (
      await withClient(t.database, (c) => c.query("SELECT id, username, session_version FROM users WHERE role = 'admin' LIMIT 1"))
    ).rows[0];
    const mint = (secret: string, kid: string) =>
      jwt.sign({ sub: user.id, sv: user.session_version, username: user.username, role: 'admin' }, secret, {
        algorithm: 'HS256',
        keyid: kid,
        expiresIn: 300,
        issuer: 'erp-ops-control-plane',
        audience: 'erp-ops',
      });
    for (const row of rows) {
      const forged = await t
        .http()
        .get('/api/v1/users')
        .set('Authorization', `Bearer ${mint(row.secret_enc, row.kid)}`);
      expect(forged.status).toBe(401);
    }
    // With the master key (kept outside the database) the same row does sign: the key is the only way.
    const key = new MasterKey(Buffer.from(t.env.OPS_MASTER_KEY), 'test');
    const secret = key.decrypt('signing-keys', rows[0].secret_enc, rows[0].kid)!;
    expect(
      (
        await t
          .http()
          .get('/api/v1/users')
          .set('Authorization', `Bearer ${mint(secret, rows[0].kid)}`)
      ).status,
    ).toBe(200);
  });

  it('loses nothing while its database refuses connections: the entry waits in the spool and joins the chain when it can', async () => {
    const other = await startTestApp();
    try {
      const token = await other.tokenFor(Role.Admin);
      const requestId = `spool-${Date.now()}`;
      await withClient('postgres', async (c) => {
        await c.query(`ALTER DATABASE "${other.database}" ALLOW_CONNECTIONS false`);
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [
          other.database,
        ]);
      });
      try {
        // Refused without a token: the guard's denial is an audit entry, and the database is gone.
        const res = await other.http().get('/api/v1/users').set('X-Request-Id', requestId);
        expect(res.status).toBe(401);
        const spooled = readdirSync(other.env.OPS_AUDIT_SPOOL_DIR)
          .map((f) => readFileSync(join(other.env.OPS_AUDIT_SPOOL_DIR, f), 'utf8'))
          .join('');
        expect(spooled).toContain(requestId);
      } finally {
        await withClient('postgres', (c) => c.query(`ALTER DATABASE "${other.database}" ALLOW_CONNECTIONS true`));
      }
      let found: unknown[] = [];
      for (let end = Date.now() + 20_000; Date.now() < end && found.length === 0; await new Promise((r) => setTimeout(r, 200))) {
        found = (
          await withClient(other.database, (c) =>
            c.query('SELECT outcome, error_code FROM audit_entries WHERE request_id = $1', [requestId]),
          )
        ).rows;
      }
      expect(found).toEqual([{ outcome: 'denied', error_code: 'UNAUTHENTICATED' }]);
      const res = (await other.http().get('/api/v1/audit/verify').set('Authorization', `Bearer ${token}`)).body;
      expect(res).toMatchObject({ valid: true, brokenRanges: [] });
    } finally {
      await other.close();
    }
  });
});
