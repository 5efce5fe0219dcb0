import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import * as jwt from 'jsonwebtoken';
import Redis from 'ioredis';
import { Role } from '../src/common/rights';
import { MasterKey } from '../src/config/master-key';
import { withClient } from './helpers/db';
import { PASSWORD, startTestApp, TestApp } from './helpers/test-app';

describe('sign-in (real PostgreSQL and Redis)', () => {
  let t: TestApp;
  let secret: string;
  let kid: string;

  before(async () => {
    t = await startTestApp();
    await t.createUser(Role.Operator, 'ops.olga');
    // The signing key as only the master key's holder can read it (it is stored encrypted).
    const key = await withClient(t.database, (c) => c.query('SELECT kid, secret_enc FROM signing_keys LIMIT 1'));
    kid = key.rows[0].kid;
    secret = new MasterKey(Buffer.from(t.env.OPS_MASTER_KEY), 'test').decrypt('signing-keys', key.rows[0].secret_enc, kid)!;
  });
  after(() => t.close());

  it('logs in with a password and returns a short-lived JWT that /auth/me accepts', async () => {
    const res = await t.http().post('/api/v1/auth/login').send({ username: 'ops.olga', password: PASSWORD });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, user: { username: 'ops.olga', role: 'operator' } });
    const claims = jwt.decode(res.body.accessToken) as jwt.JwtPayload;
    expect(claims.exp! - claims.iat!).toBe(900);
    const me = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${res.body.accessToken}`);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ kind: 'user', username: 'ops.olga', role: 'operator' });
    expect(me.body.rights).toContain('auth.self');
    expect(me.body.rights).not.toContain('users.manage');
    const gql = await t.gql(res.body.accessToken, '{ me { username role } }');
    expect(gql.body.data.me).toEqual({ username: 'ops.olga', role: 'operator' });
  });

  it('refuses a wrong password and an unknown user with the same 401', async () => {
    const wrong = await t.http().post('/api/v1/auth/login').send({ username: 'ops.olga', password: 'not-the-password' });
    const unknown = await t.http().post('/api/v1/auth/login').send({ username: 'nobody.here', password: 'whatever-password' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.message).toBe(unknown.body.message);
    expect(wrong.body.error).toBe('INVALID_CREDENTIALS');
  });

  it('locks the account for this address for 15 minutes after 5 failures from it, counted in Redis and seen by another replica', async () => {
    const user = await t.createUser(Role.Viewer, 'lock.lena');
    const replica = await startTestApp({ shareWith: t });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await t
          .http()
          .post('/api/v1/auth/login')
          .send({ username: user.username, password: `wrong-${i}` });
        expect(res.status).toBe(401);
      }
      // The right password, on the other replica: locked.
      const locked = await replica.http().post('/api/v1/auth/login').send({ username: user.username, password: PASSWORD });
      expect(locked.status).toBe(429);
      expect(locked.body.error).toBe('ACCOUNT_LOCKED');
      const retryAfter = Number(locked.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(890);
      expect(retryAfter).toBeLessThanOrEqual(900);
      const redis = new Redis('redis://127.0.0.1:6379/0');
      const ttl = await redis.pttl(`${t.redisPrefix}login:lock:ua:${user.username}:127.0.0.1`);
      await redis.quit();
      expect(ttl).toBeGreaterThan(890_000);
      // An admin lifts the lock.
      const admin = await t.tokenFor(Role.Admin);
      const unlock = await t.http().post(`/api/v1/users/${user.id}/unlock`).set('Authorization', `Bearer ${admin}`);
      expect(unlock.status).toBe(200);
      const ok = await replica.http().post('/api/v1/auth/login').send({ username: user.username, password: PASSWORD });
      expect(ok.status).toBe(200);
    } finally {
      await replica.close();
    }
  });

  it('counts concurrent attempts before checking them: a burst gets at most 5 password checks', async () => {
    const user = await t.createUser(Role.Viewer, 'burst.bob');
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        t
          .http()
          .post('/api/v1/auth/login')
          .send({ username: user.username, password: `guess-number-${i}` }),
      ),
    );
    const statuses = burst.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(25);
    expect((await t.http().post('/api/v1/auth/login').send({ username: user.username, password: PASSWORD })).status).toBe(429);
  });

  it('refuses a disabled user at login and their existing token at once', async () => {
    const user = await t.createUser(Role.Operator, 'gone.gary');
    const token = await t.login(user.username);
    const admin = await t.tokenFor(Role.Admin);
    const res = await t.http().patch(`/api/v1/users/${user.id}`).set('Authorization', `Bearer ${admin}`).send({ disabled: true });
    expect(res.status).toBe(200);
    expect((await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`)).status).toBe(401);
    expect((await t.http().post('/api/v1/auth/login').send({ username: user.username, password: PASSWORD })).status).toBe(401);
  });

  describe('rejected access tokens', () => {
    let userId: string;
    before(async () => {
      userId = (await t.createUser(Role.Admin, 'tok.tina')).id;
    });
    const now = () => Math.floor(Date.now() / 1000);
    const claims = () => ({ sub: userId, sv: 0, username: 'tok.tina', role: 'admin' });
    const sign = (payload: object, options: jwt.SignOptions, key = secret) =>
      jwt.sign(payload, key, {
        algorithm: 'HS256',
        issuer: 'erp-ops-control-plane',
        audience: 'erp-ops',
        keyid: kid,
        expiresIn: 600,
        ...options,
      });

    it('accepts a valid token (the control for the cases below)', async () => {
      expect(
        (
          await t
            .http()
            .get('/api/v1/auth/me')
            .set('Authorization', `Bearer ${sign(claims(), {})}`)
        ).status,
      ).toBe(200);
    });

    const cases: [string, () => string, RegExp][] = [
      [
        'alg: none',
        () => {
          const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid })).toString('base64url');
          const body = Buffer.from(
            JSON.stringify({ ...claims(), iss: 'erp-ops-control-plane', aud: 'erp-ops', exp: now() + 600 }),
          ).toString('base64url');
          return `${header}.${body}.`;
        },
        /./,
      ],
      ['a wrong signature', () => sign(claims(), {}, 'another-secret-that-is-long-enough-to-sign'), /invalid signature/],
      ['an unknown key id', () => sign(claims(), { keyid: 'not-a-key' }), /unknown signing key/],
      [
        'an expired token',
        () =>
          jwt.sign({ ...claims(), exp: now() - 60 }, secret, {
            algorithm: 'HS256',
            issuer: 'erp-ops-control-plane',
            audience: 'erp-ops',
            keyid: kid,
          }),
        /expired/,
      ],
      ['a token not yet valid', () => sign(claims(), { notBefore: 3600 }), /not yet valid/],
      ['another audience', () => sign(claims(), { audience: 'erp-backend' }), /audience/],
      ['another issuer', () => sign(claims(), { issuer: 'someone-else' }), /issuer/],
      [
        'HS512 instead of HS256',
        () =>
          jwt.sign(claims(), secret, {
            algorithm: 'HS512',
            issuer: 'erp-ops-control-plane',
            audience: 'erp-ops',
            keyid: kid,
            expiresIn: 600,
          }),
        /algorithm/,
      ],
      ['garbage', () => 'not.a.jwt', /./],
    ];

    for (const [name, make, reason] of cases)
      it(name, async () => {
        const res = await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${make()}`);
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('UNAUTHENTICATED');
        expect(res.body.message).toMatch(reason);
      });

    it('GraphQL refuses the same tokens with UNAUTHENTICATED', async () => {
      const res = await t.gql(sign(claims(), { audience: 'erp-backend' }), '{ me { username } }');
      // Refused before execution (the GraphQL gate): a 401 and no data at all.
      expect(res.status).toBe(401);
      expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(res.body.data).toBeUndefined();
    });
  });
});
