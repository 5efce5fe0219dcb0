import { createServer, Server, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../src/common/rights';
import { freePort } from './helpers/redis-server';
import { PASSWORD, startTestApp, TestApp } from './helpers/test-app';

/** A TCP server that accepts connections and never answers: a hung dependency. */
async function hangingServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('hardening expected of an ops API', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { OPS_GRAPHQL_INTROSPECTION: 'false', OPS_GRAPHQL_MAX_DEPTH: '4', OPS_GRAPHQL_MAX_COST: '300' } });
  });
  after(() => t.close());

  it('sends security headers and a request id on every response', async () => {
    const res = await t.http().get('/health').set('X-Request-Id', 'trace-123');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-request-id']).toBe('trace-123');
    const generated = await t.http().get('/health').set('X-Request-Id', 'bad id with spaces');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect((await t.http().get('/nope')).headers['x-frame-options']).toBe('DENY');
  });

  it("allows CORS only for the inventory's admin-panel origins", async () => {
    const allowed = await t
      .http()
      .options('/api/v1/auth/me')
      .set('Origin', 'https://erp.yourdomain.com')
      .set('Access-Control-Request-Method', 'GET');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://erp.yourdomain.com');
    const denied = await t
      .http()
      .options('/api/v1/auth/me')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'GET');
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('limits GraphQL depth and cost, and introspection can be turned off', async () => {
    const token = await t.tokenFor(Role.Admin);
    const deep = await t.gql(token, '{ auditEntries { items { parameters } } me { username } a: me { username } }');
    expect(deep.body.errors).toBeUndefined();
    const tooDeep = await t.gql(
      token,
      'fragment F on AuditPage { items { id } } { auditEntries { ...F items { id } } users { items { username } } inventory { services { name } } }',
    );
    expect(tooDeep.body.errors).toBeUndefined();
    const costly = await t.gql(token, '{ auditEntries(limit: 200) { items { id actor action outcome } } }');
    expect(costly.status).toBe(400);
    expect(costly.body.errors[0].message).toMatch(/query cost \d+ exceeds the limit of 300/);
    const introspection = await t.gql(token, '{ __schema { types { name } } }');
    expect(introspection.body.errors[0].message).toMatch(/introspection/i);
  });

  it('rejects a query deeper than the limit, counting through fragments', async () => {
    const shallow = await startTestApp({ env: { OPS_GRAPHQL_MAX_DEPTH: '1' } });
    try {
      const token = await shallow.tokenFor(Role.Admin);
      expect((await shallow.gql(token, '{ me { username } }')).body.errors).toBeUndefined();
      const deep = await shallow.gql(token, '{ ...A } fragment A on Query { inventory { services { name } } }');
      expect(deep.status).toBe(400);
      expect(deep.body.errors[0].message).toBe('query depth 2 exceeds the limit of 1');
    } finally {
      await shallow.close();
    }
  });

  it('never writes a password, an access token or an API token to the log', async () => {
    const user = await t.createUser(Role.Admin);
    const login = await t.http().post('/api/v1/auth/login').send({ username: user.username, password: PASSWORD });
    const made = await t
      .http()
      .post('/api/v1/tokens')
      .set('Authorization', `Bearer ${login.body.accessToken}`)
      .send({ name: 'logged', role: 'viewer' });
    await t.http().get('/api/v1/auth/me').set('Authorization', `Bearer ${made.body.token}`);
    await t.http().post('/api/v1/auth/login').send({ username: user.username, password: 'wrong-password-123' });
    const logs = t.logs.join('');
    expect(logs.length).toBeGreaterThan(100);
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toContain('wrong-password-123');
    expect(logs).not.toContain(login.body.accessToken);
    expect(logs).not.toContain(made.body.token);
    // Each request is logged as one JSON line with its id.
    const line = t.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'request' && l.url === '/api/v1/auth/me' && l.method === 'GET');
    expect(line).toMatchObject({ method: 'GET', status: 200, route: '/api/v1/auth/me' });
    expect(line.reqId).toBeTruthy();
  });
});

describe('rate limit per client, counted in Redis', () => {
  it('answers 429 with Retry-After past the limit, per client', async () => {
    const t = await startTestApp({ env: { OPS_RATE_LIMIT_PER_MINUTE: '5' } });
    try {
      const statuses: number[] = [];
      // A different name each time, so the sign-in lockout never answers instead of the rate limit;
      // and the rate limit's one-minute window must not turn over in the middle of the test.
      let attempt = 0;
      const login = () =>
        t
          .http()
          .post('/api/v1/auth/login')
          .send({ username: `nobody.here${attempt++}`, password: 'not-a-password' });
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
      for (let i = 0; i < 7; i++) statuses.push((await login()).status);
      // Login is public: limited per address.
      expect(statuses.slice(0, 5).every((s) => s === 401)).toBe(true);
      expect(statuses[6]).toBe(429);
      const limited = await login();
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.body.error).toBe('RATE_LIMITED');
      // Failed authentication counts against the address too.
      expect((await t.http().get('/api/v1/auth/me').set('Authorization', 'Bearer not.a.jwt')).status).toBe(429);
      // Probes are never limited (an orchestrator must not see 429 from liveness).
      for (let i = 0; i < 10; i++) expect((await t.http().get('/health')).status).toBe(200);
      expect((await t.http().get('/health/ready')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('rate limit under concurrent requests (counted together in Redis)', () => {
  it('lets exactly the limit through per identity when many requests arrive at once', async () => {
    const t = await startTestApp({ env: { OPS_RATE_LIMIT_PER_MINUTE: '12' } });
    try {
      const [viewer, operator] = [await t.tokenFor(Role.Viewer), await t.tokenFor(Role.Operator)];
      // The window must not turn over in the middle of the test.
      const intoMinute = Date.now() % 60_000;
      if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
      const me = (token: string) =>
        t
          .http()
          .get('/api/v1/auth/me')
          .set('Authorization', `Bearer ${token}`)
          .then((r) => r.status);
      // 30 requests of each identity, interleaved, all in flight together.
      const statuses = await Promise.all(Array.from({ length: 60 }, (_, i) => me(i % 2 ? operator : viewer).then((s) => [i % 2, s])));
      const count = (who: number, status: number) => statuses.filter(([w, s]) => w === who && s === status).length;
      expect([count(0, 200), count(0, 429)]).toEqual([12, 18]);
      expect([count(1, 200), count(1, 429)]).toEqual([12, 18]);
      expect(await me(viewer)).toBe(429);
    } finally {
      await t.close();
    }
  });
});

describe('graceful shutdown with a hung dependency', () => {
  it('finishes an in-flight request before closing', async () => {
    const hung = await hangingServer();
    const t = await startTestApp({ env: { OPS_REDIS_URL: `redis://127.0.0.1:${hung.port}/0` } });
    try {
      // Readiness waits ~1 s on the hung Redis; close the app meanwhile.
      const inflight = t.http().get('/health/ready');
      const result = inflight.then((r) => r);
      await new Promise((r) => setTimeout(r, 200));
      const closing = t.app.close();
      const res = await result;
      expect(res.status).toBe(503);
      expect(res.body.dependencies.redis.status).toBe('down');
      await closing;
    } finally {
      await t.close().catch(() => undefined);
      await hung.close();
    }
  });
});
