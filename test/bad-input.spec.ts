import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../src/common/rights';
import { withClient } from './helpers/db';
import { startTestApp, TestApp } from './helpers/test-app';

interface BadCase {
  name: string;
  method: 'post' | 'patch' | 'get' | 'delete';
  path: string;
  body?: string | object;
  contentType?: string;
  status: number;
  mentions: RegExp;
}

const USER = '00000000-0000-4000-8000-000000000000';

const CASES: BadCase[] = [
  {
    name: 'malformed JSON',
    method: 'post',
    path: '/api/v1/users',
    body: '{"username": "a",',
    status: 400,
    mentions: /body: is not valid JSON/,
  },
  {
    name: 'a JSON array instead of an object',
    method: 'post',
    path: '/api/v1/users',
    body: '[1,2]',
    status: 400,
    mentions: /body: must be a JSON object/,
  },
  {
    name: 'a JSON string instead of an object',
    method: 'post',
    path: '/api/v1/tokens',
    body: '"hello"',
    status: 400,
    mentions: /body: must be a JSON object/,
  },
  { name: 'an empty JSON body', method: 'post', path: '/api/v1/tokens', body: '', status: 400, mentions: /body/ },
  {
    name: 'a wrong type',
    method: 'post',
    path: '/api/v1/users',
    body: { username: 42, password: 'long-enough-password', role: 'operator' },
    status: 400,
    mentions: /username: must be a string/,
  },
  {
    name: 'an unknown field',
    method: 'post',
    path: '/api/v1/users',
    body: { username: 'x.ok', password: 'long-enough-password', role: 'operator', isRoot: true },
    status: 400,
    mentions: /isRoot: is not a known field/,
  },
  {
    name: 'an unknown role',
    method: 'post',
    path: '/api/v1/users',
    body: { username: 'x.ok', password: 'long-enough-password', role: 'root' },
    status: 400,
    mentions: /role: must be one of viewer, operator, support, senior_dev, dba, admin/,
  },
  {
    name: 'a missing field',
    method: 'post',
    path: '/api/v1/users',
    body: { username: 'x.ok', role: 'viewer' },
    status: 400,
    mentions: /password: must be a string/,
  },
  {
    name: 'a short password',
    method: 'post',
    path: '/api/v1/users',
    body: { username: 'x.ok', password: 'short', role: 'viewer' },
    status: 400,
    mentions: /password: must be at least 12 characters/,
  },
  {
    name: 'a bad username',
    method: 'post',
    path: '/api/v1/users',
    body: { username: 'Robert"); DROP TABLE', password: 'long-enough-password', role: 'viewer' },
    status: 400,
    mentions: /username: must be 3-64 characters/,
  },
  {
    name: 'a number out of range',
    method: 'post',
    path: '/api/v1/tokens',
    body: { name: 'x', role: 'viewer', expiresInDays: 5000 },
    status: 400,
    mentions: /expiresInDays: must be at most 365/,
  },
  {
    name: 'a fractional number',
    method: 'post',
    path: '/api/v1/tokens',
    body: { name: 'x', role: 'viewer', expiresInDays: 1.5 },
    status: 400,
    mentions: /expiresInDays: must be a whole number/,
  },
  {
    name: 'a nested object where a string belongs',
    method: 'post',
    path: '/api/v1/tokens',
    body: { name: { $gt: '' }, role: 'viewer' },
    status: 400,
    mentions: /name: must be a string/,
  },
  {
    name: 'an oversized body',
    method: 'post',
    path: '/api/v1/tokens',
    body: { name: 'x', role: 'viewer', padding: 'x'.repeat(200_000) },
    status: 413,
    mentions: /body: is larger than the limit/,
  },
  {
    name: 'a wrong content type',
    method: 'post',
    path: '/api/v1/tokens',
    body: 'name=x&role=viewer',
    contentType: 'application/x-www-form-urlencoded',
    status: 415,
    mentions: /Content-Type: must be application\/json/,
  },
  { name: 'a bad id', method: 'patch', path: '/api/v1/users/12345', body: { disabled: true }, status: 400, mentions: /id: must be a UUID/ },
  { name: 'a bad id on delete', method: 'delete', path: "/api/v1/tokens/1' OR '1'='1", status: 400, mentions: /id: must be a UUID/ },
  {
    name: 'an id that does not exist',
    method: 'patch',
    path: `/api/v1/users/${USER}`,
    body: { disabled: true },
    status: 404,
    mentions: /user .* does not exist/,
  },
  { name: 'a bad page size', method: 'get', path: '/api/v1/audit?limit=0', status: 400, mentions: /limit: must be at least 1/ },
  {
    name: 'a non-numeric page size',
    method: 'get',
    path: '/api/v1/audit?limit=ten',
    status: 400,
    mentions: /limit: must be a whole number/,
  },
  {
    name: 'a forged cursor',
    method: 'get',
    path: '/api/v1/audit?cursor=bm90LWEtY3Vyc29y',
    status: 400,
    mentions: /cursor: must be the nextCursor of a previous page/,
  },
  {
    name: 'a bad date filter',
    method: 'get',
    path: '/api/v1/audit?from=yesterday',
    status: 400,
    mentions: /from: must be an ISO 8601 date-time/,
  },
  {
    name: 'a bad outcome filter',
    method: 'get',
    path: '/api/v1/audit?outcome=maybe',
    status: 400,
    mentions: /outcome: must be one of success, failure, denied/,
  },
  {
    name: 'an unknown query parameter',
    method: 'get',
    path: '/api/v1/audit?sort=desc',
    status: 400,
    mentions: /sort: is not a known field/,
  },
  { name: 'a week date', method: 'get', path: '/api/v1/audit?from=2026-W01', status: 400, mentions: /from: must be an ISO 8601 date-time/ },
  {
    name: 'an impossible date',
    method: 'get',
    path: '/api/v1/audit?to=2026-02-31T00:00:00Z',
    status: 400,
    mentions: /to: must be an ISO 8601 date-time/,
  },
  {
    name: 'a forged cursor of the right shape but wrong kinds',
    method: 'get',
    path: `/api/v1/tokens?cursor=${Buffer.from('["x","y"]').toString('base64url')}`,
    status: 400,
    mentions: /cursor: must be the nextCursor/,
  },
  {
    name: 'a forged audit cursor',
    method: 'get',
    path: `/api/v1/audit?cursor=${Buffer.from('["1e99"]').toString('base64url')}`,
    status: 400,
    mentions: /cursor: must be the nextCursor/,
  },
  {
    name: 'a NUL character in a query parameter',
    method: 'get',
    path: '/api/v1/audit?actor=a%00b',
    status: 400,
    mentions: /actor: must not contain NUL characters/,
  },
  {
    name: 'a NUL character in a body field',
    method: 'post',
    path: '/api/v1/tokens',
    body: { name: 'a\u0000b', role: 'viewer' },
    status: 400,
    mentions: /name: must not contain NUL characters/,
  },
  {
    name: 'a login with a NUL character',
    method: 'post',
    path: '/api/v1/auth/login',
    body: { username: 'adm\u0000in', password: 'whatever-it-is' },
    status: 400,
    mentions: /username: must not contain NUL characters/,
  },
  {
    name: 'a login without a password',
    method: 'post',
    path: '/api/v1/auth/login',
    body: { username: 'admin' },
    status: 400,
    mentions: /password: must be a string/,
  },

  // Nesting and size, refused before the text becomes objects (the validation layer overflowed the stack: 500).
  {
    name: 'a deeply nested field',
    method: 'post',
    path: '/api/v1/users',
    body: `{"username":${'['.repeat(5000)}${']'.repeat(5000)},"password":"long-enough-password","role":"viewer"}`,
    status: 400,
    mentions: /^body: nested deeper than 32 levels \(OPS_JSON_MAX_DEPTH\)$/,
  },
  {
    name: 'a deeply nested login before sign-in',
    method: 'post',
    path: '/api/v1/auth/login',
    body: `{"username":"admin","password":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
    status: 400,
    mentions: /body: nested deeper than 32 levels/,
  },
  {
    name: 'a deeply nested webhook',
    method: 'post',
    path: '/api/v1/alerts/webhook',
    body: `{"version":"4","alerts":[${'['.repeat(5000)}${']'.repeat(5000)}]}`,
    status: 400,
    mentions: /body: nested deeper than 32 levels/,
  },
  {
    name: 'nesting of exactly 32 levels (parsed, then refused by the fields)',
    method: 'post',
    path: '/api/v1/users',
    body: `{"username":${'['.repeat(31)}${']'.repeat(31)}}`,
    status: 400,
    mentions: /username: must be a string/,
  },
  {
    name: 'more object keys than allowed',
    method: 'post',
    path: '/api/v1/auth/login',
    body: `{${'"k":0,'.repeat(10_000)}"k":0}`,
    status: 400,
    mentions: /body: holds more than 10000 object keys \(OPS_JSON_MAX_KEYS\)/,
  },
  {
    name: 'a __proto__ key',
    method: 'post',
    path: '/api/v1/tokens',
    body: '{"name":"x","role":"viewer","__proto__":{"role":"admin"}}',
    status: 400,
    mentions: /body: must not hold a "__proto__" key/,
  },
  {
    name: 'an escaped __proto__ key before sign-in',
    method: 'post',
    path: '/api/v1/auth/login',
    body: '{"username":"admin","password":"x","\\u005f_proto__":{}}',
    status: 400,
    mentions: /body: must not hold a "__proto__" key/,
  },
  {
    name: 'constructor.prototype',
    method: 'post',
    path: '/api/v1/users',
    body: '{"username":"x.ok","password":"long-enough-password","role":"viewer","constructor":{"prototype":{"isAdmin":true}}}',
    status: 400,
    mentions: /body: must not hold "constructor.prototype"/,
  },

  // Text and numbers PostgreSQL cannot store, in keys and values (reached jsonb or bigint: 500).
  {
    name: 'a lone surrogate in procedure parameters',
    method: 'post',
    path: '/api/v1/procedures/alerts.storm/runs',
    body: '{"parameters":{"matchers":[{"name":"alertname","value":"\\ud800"}],"duration":"30m"},"dryRun":true}',
    status: 400,
    mentions: /^parameters\.matchers\.0\.value: must be valid Unicode text \(a lone surrogate\)$/,
  },
  {
    name: 'a NUL in a key of procedure parameters',
    method: 'post',
    path: '/api/v1/procedures/alerts.storm/runs',
    body: '{"parameters":{"matchers":[],"duration":"30m","a\\u0000b":1},"dryRun":true}',
    status: 400,
    mentions: /^parameters\.a\\u0000b: key must not contain NUL characters$/,
  },
  {
    name: 'a lone surrogate in a webhook label',
    method: 'post',
    path: '/api/v1/alerts/webhook',
    body: { ...webhook(), alerts: [{ ...webhook().alerts[0], labels: { alertname: 'High\udfffCPU' } }] },
    status: 400,
    mentions: /^alerts\.0\.labels\.alertname: must be valid Unicode text \(a lone surrogate\)$/,
  },
  {
    name: 'a NUL in a webhook label name',
    method: 'post',
    path: '/api/v1/alerts/webhook',
    body: { ...webhook(), alerts: [{ ...webhook().alerts[0], labels: { 'a\u0000b': 'x' } }] },
    status: 400,
    mentions: /^alerts\.0\.labels\.a\\u0000b: key must not contain NUL characters$/,
  },
  {
    name: 'a webhook count beyond the integer column',
    method: 'post',
    path: '/api/v1/alerts/webhook',
    body: { ...webhook(), truncatedAlerts: 2 ** 53 - 1 },
    status: 400,
    mentions: /truncatedAlerts: must be at most 2147483647/,
  },
  {
    name: 'a number beyond 2^53',
    method: 'post',
    path: '/api/v1/alerts/webhook',
    body: `{"version":"4","truncatedAlerts":9223372036854775808}`,
    status: 400,
    mentions: /^truncatedAlerts: must be between -9007199254740991 and 9007199254740991$/,
  },
  {
    name: 'a number that JSON turns into Infinity',
    method: 'post',
    path: '/api/v1/tokens',
    body: '{"name":"x","role":"viewer","expiresInDays":1e400}',
    status: 400,
    mentions: /^expiresInDays: must be a finite number$/,
  },
  {
    name: 'a lone surrogate in a login before sign-in',
    method: 'post',
    path: '/api/v1/auth/login',
    body: '{"username":"adm\\ud800in","password":"whatever-it-is"}',
    status: 400,
    mentions: /^username: must be valid Unicode text \(a lone surrogate\)$/,
  },
  {
    name: 'a NUL in a key of a login before sign-in',
    method: 'post',
    path: '/api/v1/auth/login',
    body: '{"username":"admin","password":"whatever-it-is","x\\u0000":1}',
    status: 400,
    mentions: /^x\\u0000: key must not contain NUL characters$/,
  },
  {
    name: 'a retention period past any date',
    method: 'post',
    path: '/api/v1/backups/retention',
    body: { retentionDays: 2 ** 31 - 1, dryRun: true },
    status: 400,
    mentions: /^retentionDays: must be a whole number of days from 1 to 3650/,
  },
  {
    name: "a connection threshold past PostgreSQL's",
    method: 'post',
    path: '/api/v1/procedures/db.connection-pool-exhausted/runs',
    body: { parameters: { threshold: 2 ** 53 - 1 }, dryRun: true },
    status: 400,
    mentions: /parameters\.threshold: must be a whole number of connections from 1 to 262143/,
  },

  // Cursors decoded into values PostgreSQL refuses.
  {
    name: 'an audit cursor beyond bigint',
    method: 'get',
    path: `/api/v1/audit?cursor=${Buffer.from('["9223372036854775808"]').toString('base64url')}`,
    status: 400,
    mentions: /cursor: must be the nextCursor/,
  },
  {
    name: 'a cursor of year 0000',
    method: 'get',
    path: `/api/v1/tokens?cursor=${Buffer.from(`["0000-01-01T00:00:00.000Z","${USER}"]`).toString('base64url')}`,
    status: 400,
    mentions: /cursor: must be the nextCursor/,
  },
  {
    name: 'a cursor date that does not round-trip',
    method: 'get',
    path: `/api/v1/runs?cursor=${Buffer.from(`["2026-02-31T00:00:00.000Z","${USER}"]`).toString('base64url')}`,
    status: 400,
    mentions: /cursor: must be the nextCursor/,
  },
  {
    name: 'a text cursor with a lone surrogate',
    method: 'get',
    path: `/api/v1/users?cursor=${Buffer.from('["\\ud800"]').toString('base64url')}`,
    status: 400,
    mentions: /cursor: must be the nextCursor/,
  },
];

/** A valid Alertmanager webhook payload (version 4). */
function webhook() {
  return {
    version: '4',
    groupKey: '{}:{alertname="HighCPUUsage"}',
    status: 'firing',
    receiver: 'erp-ops',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'HighCPUUsage' },
        startsAt: '2026-01-19T02:00:00Z',
        endsAt: '0001-01-01T00:00:00Z',
        fingerprint: 'abc123',
      },
    ],
  };
}

describe('bad input: a clear 4xx naming the problem, and nothing written', () => {
  let t: TestApp;
  let admin: string;
  const counts = () =>
    withClient(t.database, async (c) => {
      const r = await c.query(
        'SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM api_tokens) AS tokens, (SELECT count(*) FROM procedure_runs) AS runs, (SELECT count(*) FROM alert_notifications) AS notifications, (SELECT count(*) FROM audit_entries) AS audit',
      );
      return r.rows[0];
    });

  before(async () => {
    t = await startTestApp();
    admin = await t.tokenFor(Role.Admin);
  });
  after(() => t.close());

  for (const c of CASES) {
    it(`${c.name} → ${c.status}`, async () => {
      const before = await counts();
      let req = t.http()[c.method](c.path).set('Authorization', `Bearer ${admin}`);
      if (c.body !== undefined) {
        req = req
          .set('Content-Type', c.contentType ?? 'application/json')
          .send(typeof c.body === 'string' ? c.body : JSON.stringify(c.body));
      }
      const res = await req;
      expect({ status: res.status, body: res.body }).toMatchObject({ status: c.status, body: { statusCode: c.status } });
      expect(res.body.message).toMatch(c.mentions);
      expect(res.body.requestId).toBeTruthy();
      const afterCounts = await counts();
      const { audit: _auditAfter, ...written } = afterCounts;
      const { audit: _auditBefore, ...existing } = before;
      expect(written).toEqual(existing);
      // Refused input is not an action: no audit entry either (a 404 on an existing route is audited as a failure).
      if (c.status !== 404) expect(afterCounts.audit).toBe(before.audit);
    });
  }

  it('GraphQL: a wrong argument type is BAD_USER_INPUT naming the field, nothing written', async () => {
    const before = await counts();
    const res = await t.gql(admin, 'mutation { createUser(input: { username: "ok.name", password: "short", role: viewer }) { id } }');
    expect(res.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.body.errors[0].message).toMatch(/password: must be at least 12 characters/);
    const bad = await t.gql(admin, 'mutation { revokeApiToken(id: "nope") { id } }');
    expect(bad.body.errors[0].message).toMatch(/id: must be a UUID/);
    expect((await counts()).users).toBe(before.users);
  });

  it('GraphQL: a NUL character in an argument is BAD_USER_INPUT naming the field, nothing written', async () => {
    const before = await counts();
    const res = await t.gql(
      admin,
      'mutation { createUser(input: { username: "ok\\u0000name", password: "long-enough-password-1", role: viewer }) { id } }',
    );
    expect(res.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.body.errors[0].message).toMatch(/username: must not contain NUL characters/);
    expect((await counts()).users).toBe(before.users);
  });

  it('GraphQL: unstorable text and numbers in arguments are BAD_USER_INPUT naming the field, nothing written', async () => {
    const before = await counts();
    const run = 'mutation($input: RunRequestInput) { requestRun(procedureId: "alerts.storm", input: $input) { id } }';
    const cases: [string, Record<string, unknown> | undefined, RegExp][] = [
      [
        run,
        { input: { dryRun: true, parameters: { matchers: [{ name: 'alertname', value: '\ud800' }], duration: '30m' } } },
        /^parameters\.matchers\.0\.value: must be valid Unicode text \(a lone surrogate\)$/,
      ],
      [
        run,
        { input: { dryRun: true, parameters: { matchers: [], duration: '30m', 'a\u0000b': 1 } } },
        /^parameters\.a\\u0000b: key must not contain NUL characters$/,
      ],
      [
        'mutation { requestRun(procedureId: "alerts.storm", input: { dryRun: true, parameters: { matchers: [], duration: 1e400 } }) { id } }',
        undefined,
        /^parameters\.duration: must be a finite number$/,
      ],
      [
        'mutation { requestRun(procedureId: "alerts.storm", input: { dryRun: true, parameters: { matchers: [], duration: 9007199254740993 } }) { id } }',
        undefined,
        /^parameters\.duration: must be between/,
      ],
      [
        `mutation { requestRun(procedureId: "alerts.storm", input: { parameters: ${'['.repeat(400)}${']'.repeat(400)} }) { id } }`,
        undefined,
        /^parameters(\.0)+: is nested deeper than 64 levels$/,
      ],
      [
        'query($c: String) { auditEntries(cursor: $c) { nextCursor } }',
        { c: Buffer.from('["9223372036854775808"]').toString('base64url') },
        /cursor: must be the nextCursor/,
      ],
      [
        'mutation { applyBackupRetention(input: { retentionDays: 2147483647, dryRun: true }) { run { id } } }',
        undefined,
        /^retentionDays: must be a whole number of days from 1 to 3650/,
      ],
    ];
    for (const [query, variables, message] of cases) {
      const res = await t.gql(admin, query, variables);
      expect({ code: res.body.errors?.[0]?.extensions?.code, message: res.body.errors?.[0]?.message }).toEqual({
        code: 'BAD_USER_INPUT',
        message: expect.stringMatching(message),
      });
    }
    const { audit: _a, ...after } = await counts();
    const { audit: _b, ...existing } = before;
    expect(after).toEqual(existing);
  });

  it("GraphQL: documents nested beyond the parser's bound and persisted-query hashes are refused, never INTERNAL_SERVER_ERROR", async () => {
    const deep = await t.gql(
      admin,
      `mutation { requestRun(procedureId: "x", input: { parameters: ${'['.repeat(5000)}${']'.repeat(5000)} }) { id } }`,
    );
    expect(deep.status).toBe(400);
    expect(deep.body.errors[0]).toMatchObject({
      message: expect.stringMatching(/Document contains more that 1000 tokens/),
      extensions: { code: 'GRAPHQL_PARSE_FAILED' },
    });
    const selections = await t.gql(admin, `{ ${'me { '.repeat(3000)}id${' }'.repeat(3000)} }`);
    expect(selections.body.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    const apq = await t
      .http()
      .post('/graphql')
      .set('Content-Type', 'application/json')
      .send({ query: '{ me { id } }', extensions: { persistedQuery: { version: 1, sha256Hash: 'not-the-hash' } } });
    expect(apq.status).toBeLessThan(500);
    expect(apq.body.errors[0].extensions.code).not.toBe('INTERNAL_SERVER_ERROR');
    const variables = await t
      .http()
      .post('/graphql')
      .set('Authorization', `Bearer ${admin}`)
      .set('Content-Type', 'application/json')
      .send(`{"query":"query($a: JSON) { me { id } }","variables":{"a":${'['.repeat(5000)}${']'.repeat(5000)}}}`);
    expect({ status: variables.status, message: variables.body.message }).toEqual({
      status: 400,
      message: 'body: nested deeper than 32 levels (OPS_JSON_MAX_DEPTH)',
    });
  });

  it("never answers a client's mistake with a 500", async () => {
    const weird = [
      t.http().post('/api/v1/auth/login').set('Content-Type', 'application/json').send('null'),
      t.http().post('/api/v1/auth/login').set('Content-Type', 'application/json').send('{"username":null,"password":null}'),
      t.http().get('/api/v1/nope').set('Authorization', `Bearer ${admin}`),
      t.http().post('/graphql').set('Content-Type', 'application/json').send('{"query": 5}'),
      t.http().post('/graphql').set('Content-Type', 'application/json').send('{"query": "{ me { "}'),
    ];
    for (const res of await Promise.all(weird)) expect([res.status, res.status < 500]).toEqual([res.status, true]);
  });
});
