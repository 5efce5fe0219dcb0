import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { OwnRedis } from './helpers/redis-server';
import { startTestApp, TestApp } from './helpers/test-app';
import { Role } from '../src/common/rights';

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, ms = 15000): Promise<T> {
  const until = Date.now() + ms;
  let last: T = await probe();
  while (!ok(last) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    last = await probe();
  }
  return last;
}

describe('own health: liveness and readiness against a real Redis that stops and returns', () => {
  let redis: OwnRedis;
  let t: TestApp;

  before(async () => {
    redis = await OwnRedis.create();
    t = await startTestApp({ env: { OPS_REDIS_URL: redis.url } });
  });
  after(async () => {
    await t.close();
    await redis.stop();
  });

  it('is ready with its database and Redis up', async () => {
    const res = await t.http().get('/health/ready');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ready', dependencies: { database: { status: 'up' }, redis: { status: 'up' } } });
  });

  it('turns 503 naming Redis when Redis stops, stays live, and is ready again when Redis returns', async () => {
    await redis.stop();
    const down = await eventually(
      () => t.http().get('/health/ready'),
      (r) => r.status === 503,
    );
    expect(down.status).toBe(503);
    expect(down.body.dependencies.redis.status).toBe('down');
    expect(down.body.dependencies.database.status).toBe('up');
    // Liveness does not depend on any dependency.
    expect((await t.http().get('/health')).status).toBe(200);
    // Sign-in needs Redis (lockout counting): a clear 503, not a 500.
    const login = await t.http().post('/api/v1/auth/login').send({ username: 'someone', password: 'whatever-it-is' });
    expect(login.status).toBe(503);
    expect(login.body.error).toBe('DEPENDENCY_UNAVAILABLE');
    // Every 503 tells the client when to come back.
    expect(login.headers['retry-after']).toBe('5');
    await redis.start();
    const up = await eventually(
      () => t.http().get('/health/ready'),
      (r) => r.status === 200,
    );
    expect(up.status).toBe(200);
    expect(up.body.dependencies.redis.status).toBe('up');
  });

  it('serves its own metrics in Prometheus format to a holder of metrics.read: a scraper token, not an alert sender or nobody', async () => {
    const admin = await t.tokenFor(Role.Admin);
    const token = async (name: string, scopes: string[]) => {
      const made = await t.http().post('/api/v1/tokens').set('authorization', `Bearer ${admin}`).send({ name, kind: 'service', scopes });
      expect([made.status, made.body.message]).toEqual([201, undefined]);
      return made.body.token as string;
    };
    const prometheus = await token('prometheus', ['metrics.read']);
    const alertmanager = await token('alertmanager', ['alerts.receive']);
    const anonymous = await t.http().get('/metrics');
    expect(anonymous.status).toBe(401);
    expect(anonymous.text).not.toContain('ops_http_requests_total');
    const sender = await t.http().get('/metrics').set('authorization', `Bearer ${alertmanager}`);
    expect([sender.status, sender.body.details?.requiredRight]).toEqual([403, 'metrics.read']);
    expect(sender.text).not.toContain('ops_http_requests_total');
    const scraped = await t.http().get('/metrics').set('authorization', `Bearer ${prometheus}`);
    expect(scraped.status).toBe(200);
    expect(scraped.text).toContain('ops_http_requests_total');

    const res = await t.scrape();
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toMatch(/ops_http_requests_total\{method="GET",route="\/health\/ready",status="200"\} \d+/);
    expect(res.text).toContain('ops_http_request_duration_seconds_bucket');
  });
});
