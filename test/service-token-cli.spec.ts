/**
 * `npm run user -- service-token`: a service identity's token made from the command line (no
 * server, no person signed in), for deployment scripts such as the stand-in stack's up.sh,
 * which gives it to Alertmanager. Attacks: a scope that is not a service scope, a file that
 * others could read, an earlier token that still works after a rotation, two rotations at
 * once, a token that can do more than deliver alerts.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { projectRoot } from '../src/common/paths';
import { Role } from '../src/common/rights';
import { hashApiToken, newApiToken, TokensService } from '../src/modules/auth/tokens.service';
import { withClient } from './helpers/db';
import { startTestApp, TestApp } from './helpers/test-app';
import { waitFor } from './stack/stack-helpers';

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

const TOKEN = /^opsk_[A-Za-z0-9_-]{43}$/;

describe('npm run user -- service-token', () => {
  let t: TestApp;
  let dir: string;
  const actor = `cli:${userInfo().username}`;

  /** The command, against the test instance's database (as up.sh runs it against the developer's). */
  const cli = (...args: string[]): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(projectRoot(), 'dist/src/cli/user.js'), ...args], {
        env: { ...process.env, ...t.env, OPS_INVENTORY: join(projectRoot(), 'ops.example.yaml') },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.on('error', reject);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
  const rows = async (sql: string, params: unknown[] = []) => (await withClient(t.database, (c) => c.query(sql, params))).rows;
  const serviceTokens = (name: string) =>
    rows(
      "SELECT id, name, kind, role, scopes, owner_id, created_by, revoked_at, revoked_by FROM api_tokens WHERE name = $1 AND kind = 'service' ORDER BY created_at",
      [name],
    );
  const rotations = () =>
    rows("SELECT actor, actor_role, target, parameters FROM audit_entries WHERE action = 'tokens.rotate' ORDER BY id");
  const call = (token: string, method: 'get' | 'post', path: string, body?: object) => {
    const req = t.http()[method](path).set('Authorization', `Bearer ${token}`);
    return body ? req.send(body) : req;
  };
  const delivery = (alertname: string) => ({
    version: '4',
    groupKey: `{}:{alertname="${alertname}"}`,
    status: 'firing',
    receiver: 'default',
    alerts: [
      {
        status: 'firing',
        labels: { alertname },
        startsAt: '2026-11-29T23:35:24Z',
        endsAt: '0001-01-01T00:00:00Z',
        fingerprint: randomBytes(8).toString('hex'),
      },
    ],
  });

  before(async () => {
    t = await startTestApp();
    dir = mkdtempSync(join(tmpdir(), 'ops-service-token-'));
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t?.close();
  });

  it('refuses what is not a service identity, naming the problem; nothing is written', async () => {
    const out = join(dir, 'refused-token');
    const cases: [string[], RegExp][] = [
      [
        ['--scopes', 'users.manage'],
        /--scopes must name only alerts\.receive, metrics\.read \(comma-separated\): users\.manage is not a service scope/,
      ],
      [['--scopes', 'alerts.receive,procedures.run'], /procedures\.run is not a service scope/],
      [['--scopes', ''], /--scopes must name only alerts\.receive, metrics\.read/],
      [[], /--scopes must name only alerts\.receive, metrics\.read/],
      [['--scopes', 'alerts.receive', '--days', '0'], /--days must be a whole number from 1 to 365/],
      [['--scopes', 'alerts.receive', '--days', '1.5'], /--days must be a whole number from 1 to 365/],
    ];
    for (const [args, problem] of cases) {
      const res = await cli('service-token', 'refused-svc', '--out', out, ...args);
      expect({ args, status: res.status, stderr: res.stderr }).toEqual({ args, status: 1, stderr: expect.stringMatching(problem) });
    }
    const badName = await cli('service-token', '--scopes', 'alerts.receive', '--out', out);
    expect(badName.status).toBe(1);
    expect(badName.stderr).toMatch(/service-token needs the service identity's NAME/);
    const noDir = await cli('service-token', 'refused-svc', '--scopes', 'alerts.receive', '--out', join(dir, 'missing', 'token'));
    expect(noDir.status).toBe(1);
    expect(noDir.stderr).toContain(`the directory ${join(dir, 'missing')} does not exist`);
    const isDir = await cli('service-token', 'refused-svc', '--scopes', 'alerts.receive', '--out', dir);
    expect(isDir.status).toBe(1);
    expect(isDir.stderr).toMatch(/is a directory; name the file/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
    expect(await serviceTokens('refused-svc')).toEqual([]);
    expect(await rotations()).toEqual([]);
  });

  let first: string;
  it('writes only the token, mode 0600, replacing a readable file; the token delivers alerts as the service identity', async () => {
    const out = join(dir, 'alertmanager-token');
    writeFileSync(out, 'an older file anyone could read\n');
    chmodSync(out, 0o644);
    const res = await cli('service-token', 'alertmanager', '--scopes', 'alerts.receive', '--out', out);
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    first = readFileSync(out, 'utf8');
    expect(first).toMatch(TOKEN);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['alertmanager-token']);
    // The value goes to the file only, never to the terminal.
    expect(res.stdout + res.stderr).not.toContain(first);
    expect(res.stdout).toContain(`token written to ${out} (mode 0600)`);
    expect(res.stdout).toMatch(
      /service identity alertmanager \(alerts\.receive\): token [0-9a-f-]{36} \(opsk_.{7}…\) expires .*; 0 earlier token\(s\) revoked/,
    );

    const [row] = await serviceTokens('alertmanager');
    expect(row).toMatchObject({
      kind: 'service',
      role: null,
      scopes: ['alerts.receive'],
      owner_id: null,
      created_by: actor,
      revoked_at: null,
    });
    const stored = await call(first, 'post', '/api/v1/alerts/webhook', delivery('CliTokenDelivers'));
    expect(stored.status).toBe(200);
    expect(stored.body.stored).toBe(true);
    const [notification] = await rows('SELECT received_by FROM alert_notifications WHERE id = $1', [stored.body.id]);
    expect(notification.received_by).toBe('service:alertmanager');

    const audit = await rotations();
    expect(audit).toEqual([
      {
        actor,
        actor_role: null,
        target: `api-token:${row.id}`,
        parameters: { kind: 'service', name: 'alertmanager', scopes: ['alerts.receive'], expiresInDays: 90, revoked: [], out },
      },
    ]);
  });

  it('the token can deliver alerts and nothing else: reading alerts, tokens, runs, users, GraphQL are 403', async () => {
    for (const path of [
      '/api/v1/alerts',
      '/api/v1/alerts/notifications',
      '/api/v1/tokens',
      '/api/v1/runs',
      '/api/v1/users',
      '/api/v1/audit',
    ]) {
      const res = await call(first, 'get', path);
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
      expect(res.body.message).toMatch(/the service identity service:alertmanager may only alerts\.receive/);
    }
    const minted = await call(first, 'post', '/api/v1/tokens', { name: 'heir', kind: 'service', scopes: ['alerts.receive'] });
    expect(minted.status).toBe(403);
    const run = await call(first, 'post', '/api/v1/procedures/alerts.storm/runs', {});
    expect(run.status).toBe(403);
    expect((await t.gql(first, '{ me { username } }')).body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(await serviceTokens('heir')).toEqual([]);
  });

  let second: string;
  it('a rotation revokes the earlier token (401 from then on) and audits which', async () => {
    const out = join(dir, 'alertmanager-token');
    const res = await cli('service-token', 'alertmanager', '--scopes', 'alerts.receive', '--out', out, '--days', '7');
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    expect(res.stdout).toContain('1 earlier token(s) revoked');
    second = readFileSync(out, 'utf8');
    expect(second).toMatch(TOKEN);
    expect(second).not.toBe(first);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    const refused = await call(first, 'post', '/api/v1/alerts/webhook', delivery('CliOldToken'));
    expect(refused.status).toBe(401);
    expect(refused.body.message).toBe('API token refused: API token revoked');
    expect(await rows("SELECT 1 FROM alert_notifications WHERE group_key LIKE '%CliOldToken%'")).toEqual([]);
    expect((await call(second, 'post', '/api/v1/alerts/webhook', delivery('CliNewToken'))).status).toBe(200);

    const tokens = await serviceTokens('alertmanager');
    expect(tokens.map((r) => [r.revoked_at === null, r.revoked_by])).toEqual([
      [false, actor],
      [true, null],
    ]);
    const [days] = await rows('SELECT round(extract(epoch FROM expires_at - created_at) / 86400) AS d FROM api_tokens WHERE id = $1', [
      tokens[1].id,
    ]);
    expect(Number(days.d)).toBe(7);
    const audit = await rotations();
    expect(audit[1]).toMatchObject({ target: `api-token:${tokens[1].id}`, parameters: { revoked: [tokens[0].id], expiresInDays: 7 } });
    // No token value anywhere in the audit trail.
    const trail = JSON.stringify(await rows('SELECT * FROM audit_entries'));
    expect(trail).not.toContain(first);
    expect(trail).not.toContain(second);
  });

  it('two rotations at once leave one working token, and it is the one in the file', async () => {
    const out = join(dir, 'alertmanager-token');
    const both = await Promise.all([
      cli('service-token', 'alertmanager', '--scopes', 'alerts.receive', '--out', out),
      cli('service-token', 'alertmanager', '--scopes', 'alerts.receive', '--out', out),
    ]);
    expect(both.map((r) => r.status)).toEqual([0, 0]);
    const active = await rows("SELECT id FROM api_tokens WHERE name = 'alertmanager' AND kind = 'service' AND revoked_at IS NULL");
    expect(active).toHaveLength(1);
    const inFile = readFileSync(out, 'utf8');
    expect(inFile).toMatch(TOKEN);
    expect((await call(inFile, 'post', '/api/v1/alerts/webhook', delivery('CliRaceWinner'))).status).toBe(200);
    expect((await call(second, 'post', '/api/v1/alerts/webhook', delivery('CliRaceLoser'))).status).toBe(401);
    expect(readdirSync(dir)).toEqual(['alertmanager-token']);
  });

  it('a rotation that starts while another holds the identity waits for it: never two working tokens', async () => {
    const tokens = t.app.get(TokensService);
    const input = { name: 'raced', scopes: ['alerts.receive'], expiresInDays: 1 };
    const [a, b] = [newApiToken(), newApiToken()];
    let second: Promise<unknown> | undefined;
    const lockWaiters = async () =>
      Number(
        (await rows("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [t.database]))[0].n,
      );
    await tokens.rotateServiceToken(input, 'test', newApiToken());
    await tokens.rotateServiceToken(input, 'test', a, async () => {
      // The first rotation has revoked and inserted but not committed: the second one starts now.
      second = tokens.rotateServiceToken(input, 'test', b);
      await waitFor('the second rotation to wait for the first', async () => (await lockWaiters()) === 1, 10_000, 50);
    });
    await second;
    const active = await rows("SELECT token_hash FROM api_tokens WHERE name = 'raced' AND revoked_at IS NULL");
    expect(active).toEqual([{ token_hash: hashApiToken(b) }]);
    expect((await call(a, 'post', '/api/v1/alerts/webhook', delivery('RacedA'))).status).toBe(401);
    expect((await call(b, 'post', '/api/v1/alerts/webhook', delivery('RacedB'))).status).toBe(200);
  });

  it('without --out the token is printed once; a person and their tokens are untouched by a rotation of the same name', async () => {
    const admin = await t.tokenFor(Role.Admin);
    const personal = await t
      .http()
      .post('/api/v1/tokens')
      .set('Authorization', `Bearer ${admin}`)
      .send({ name: 'printed', role: 'viewer' });
    expect(personal.status).toBe(201);
    const res = await cli('service-token', 'printed', '--scopes', 'alerts.receive');
    expect(res.status).toBe(0);
    const printed = /token \(shown once\): (\S+)/.exec(res.stdout)?.[1] ?? '';
    expect(printed).toMatch(TOKEN);
    expect((await call(printed, 'post', '/api/v1/alerts/webhook', delivery('CliPrinted'))).status).toBe(200);
    // The person's token of the same name is not a service identity's: it still works.
    expect((await call(personal.body.token, 'get', '/api/v1/alerts/notifications')).status).toBe(200);
  });
});
