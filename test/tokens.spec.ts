import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../src/common/rights';
import { withClient } from './helpers/db';
import { startTestApp, TestApp } from './helpers/test-app';

describe('API tokens for scripts', () => {
  let t: TestApp;
  let admin: string;

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor(Role.Admin);
  });
  after(() => t.close());

  const create = (body: object, token = admin) => t.http().post('/api/v1/tokens').set('Authorization', `Bearer ${token}`).send(body);

  it('creates a token shown once, stores only its hash, and lists it without the value', async () => {
    const res = await create({ name: 'nightly-report', role: 'operator', expiresInDays: 30 });
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^opsk_[A-Za-z0-9_-]{43}$/);
    expect(res.body).toMatchObject({ name: 'nightly-report', role: 'operator', status: 'active', lastUsedAt: null });
    const days = (Date.parse(res.body.expiresAt) - Date.parse(res.body.createdAt)) / 86_400_000;
    expect(Math.round(days)).toBe(30);
    const stored = await withClient(t.database, (c) => c.query('SELECT * FROM api_tokens WHERE id = $1', [res.body.id]));
    expect(JSON.stringify(stored.rows)).not.toContain(res.body.token);
    expect(stored.rows[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
    const list = await t.http().get('/api/v1/tokens').set('Authorization', `Bearer ${admin}`);
    expect(list.status).toBe(200);
    const listed = list.body.items.find((i: { id: string }) => i.id === res.body.id);
    expect(listed).toBeDefined();
    expect(listed.token).toBeUndefined();
    expect(JSON.stringify(list.body)).not.toContain(res.body.token);
  });

  it("authenticates exactly like a JWT, with the token's role, and records its last use", async () => {
    const { body } = await create({ name: 'viewer-script', role: 'viewer' });
    const me = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${body.token}`);
    expect(me.status).toBe(200);
    // It acts as the person who made it (the owner), with the token's role, and says through which token.
    const owner = (await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${admin}`)).body;
    expect(me.body).toMatchObject({
      kind: 'token',
      username: owner.username,
      userId: owner.id,
      role: 'viewer',
      via: 'token:viewer-script',
    });
    // The token's role is what counts: a viewer token of an admin cannot manage users.
    expect((await t.http().get('/api/v1/users').set('Authorization', `Bearer ${body.token}`)).status).toBe(403);
    const gql = await t.gql(body.token, '{ me { username role } }');
    expect(gql.body.data.me).toEqual({ username: owner.username, role: 'viewer' });
    const row = await withClient(t.database, (c) => c.query('SELECT last_used_at FROM api_tokens WHERE id = $1', [body.id]));
    expect(row.rows[0].last_used_at).not.toBeNull();
  });

  it('refuses a revoked token at once, and a second revocation is a 409', async () => {
    const { body } = await create({ name: 'to-revoke', role: 'operator' });
    expect((await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${body.token}`)).status).toBe(200);
    const revoke = await t.http().delete(`/api/v1/tokens/${body.id}`).set('Authorization', `Bearer ${admin}`);
    expect(revoke.status).toBe(200);
    expect(revoke.body.status).toBe('revoked');
    const refused = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${body.token}`);
    expect(refused.status).toBe(401);
    expect(refused.body.message).toMatch(/revoked/);
    const again = await t.http().delete(`/api/v1/tokens/${body.id}`).set('Authorization', `Bearer ${admin}`);
    expect(again.status).toBe(409);
  });

  it('answers each of many tokens presented at once (looked up together) for that token alone', async () => {
    const viewer = (await create({ name: 'together-viewer', role: 'viewer' })).body;
    const operator = (await create({ name: 'together-operator', role: 'operator' })).body;
    const revoked = (await create({ name: 'together-revoked', role: 'operator' })).body;
    const expired = (await create({ name: 'together-expired', role: 'operator' })).body;
    expect((await t.http().delete(`/api/v1/tokens/${revoked.id}`).set('Authorization', `Bearer ${admin}`)).status).toBe(200);
    await withClient(t.database, (c) =>
      c.query("UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1", [expired.id]),
    );
    const unknown = `opsk_${'B'.repeat(43)}`;
    const expected: [string, number, RegExp | { role: string; via: string }][] = [
      [viewer.token, 200, { role: 'viewer', via: 'token:together-viewer' }],
      [operator.token, 200, { role: 'operator', via: 'token:together-operator' }],
      [revoked.token, 401, /revoked/],
      [expired.token, 401, /expired/],
      [unknown, 401, /unknown API token/],
    ];
    // 50 requests in flight together, the five tokens interleaved: each lookup batch holds several of them.
    const calls = Array.from({ length: 50 }, (_, i) => expected[i % expected.length]);
    const answers = await Promise.all(
      calls.map(([token]) =>
        t
          .http()
          .get('/api/v1/auth/me')
          .set('Authorization', `Bearer ${token}`)
          .then((r) => r),
      ),
    );
    answers.forEach((res, i) => {
      const [, status, what] = calls[i];
      expect(res.status).toBe(status);
      if (what instanceof RegExp) expect(res.body.message).toMatch(what);
      else expect(res.body).toMatchObject(what);
    });
  });

  it('refuses a revoked token in every request made after the revocation, while lookups are under way', async () => {
    const busy = (await create({ name: 'keeps-lookups-busy', role: 'viewer' })).body;
    const victim = (await create({ name: 'revoked-under-load', role: 'operator' })).body;
    let stop = false;
    // Other requests keep the token lookups busy the whole time (bounded: 400 at most).
    const load = (async () => {
      for (let i = 0; i < 40 && !stop; i++)
        await Promise.all(
          Array.from({ length: 10 }, () =>
            t
              .http()
              .get('/api/v1/auth/me')
              .set('Authorization', `Bearer ${busy.token}`)
              .then((r) => expect(r.status).toBe(200)),
          ),
        );
    })();
    try {
      expect((await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${victim.token}`)).status).toBe(200);
      expect((await t.http().delete(`/api/v1/tokens/${victim.id}`).set('Authorization', `Bearer ${admin}`)).status).toBe(200);
      const after = await Promise.all(
        Array.from({ length: 20 }, () =>
          t
            .http()
            .get('/api/v1/auth/me')
            .set('Authorization', `Bearer ${victim.token}`)
            .then((r) => r),
        ),
      );
      expect(after.map((r) => r.status)).toEqual(Array(20).fill(401));
    } finally {
      stop = true;
      await load;
    }
  });

  it('refuses an expired token and an unknown one', async () => {
    const { body } = await create({ name: 'short-lived', role: 'operator' });
    await withClient(t.database, (c) => c.query("UPDATE api_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1", [body.id]));
    const expired = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${body.token}`);
    expect(expired.status).toBe(401);
    expect(expired.body.message).toMatch(/expired/);
    const unknown = await t
      .http()
      .get('/api/v1/auth/me')
      .set('Authorization', `Bearer opsk_${'A'.repeat(43)}`);
    expect(unknown.status).toBe(401);
    expect(unknown.body.message).toMatch(/unknown API token/);
  });

  it('creates and revokes through GraphQL as well', async () => {
    const created = await t.gql(
      admin,
      'mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { id token role status } }',
      {
        input: { name: 'gql-made', role: 'support' },
      },
    );
    expect(created.body.errors).toBeUndefined();
    const { id, token } = created.body.data.createApiToken;
    expect((await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`)).body.role).toBe('support');
    const revoked = await t.gql(admin, 'mutation($id: String!) { revokeApiToken(id: $id) { status } }', { id });
    expect(revoked.body.data.revokeApiToken.status).toBe('revoked');
    expect((await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`)).status).toBe(401);
  });

  it('pages through tokens with a cursor', async () => {
    for (let i = 0; i < 3; i++) await create({ name: `page-${i}`, role: 'viewer' });
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { body: { items: { id: string }[]; nextCursor: string | null } } = await t
        .http()
        .get('/api/v1/tokens')
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set('Authorization', `Bearer ${admin}`);
      for (const item of res.body.items) {
        expect(seen.has(item.id)).toBe(false);
        seen.add(item.id);
      }
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    const total = await withClient(t.database, (c) => c.query('SELECT count(*)::int AS n FROM api_tokens'));
    expect(seen.size).toBe(total.rows[0].n);
    expect(pages).toBeGreaterThan(1);
  });
});
