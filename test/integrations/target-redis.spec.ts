/**
 * TargetRedis against the stand-in's Redis (erp-redis, 127.0.0.1:16379, maxmemory 1gb).
 */
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { TargetRedis, parseInfo } from '../../src/integrations/target-redis/target-redis';
import { docker, healthStatus, waitFor } from '../stack/stack-helpers';
import { closedPort, failure, stackInventory, startHangingServer, timesOut } from './helpers';

const inventory = stackInventory();
const T = { timeoutMs: 5000 };

describe('TargetRedis', () => {
  let redis: TargetRedis;
  const extra: TargetRedis[] = [];
  const other = (url: string) => {
    const r = new TargetRedis(url);
    extra.push(r);
    return r;
  };

  before(() => {
    redis = new TargetRedis(inventory.erpRedis.url);
  });
  after(async () => {
    await redis.close();
    await Promise.all(extra.map((r) => r.close()));
  });

  it('pings (connecting lazily)', async () => {
    const p = await redis.ping(T);
    expect(p.latencyMs).toBeGreaterThanOrEqual(0);
    expect((await redis.ping(T)).latencyMs).toBeLessThan(1000);
  });

  it('reads INFO memory: used bytes and the 1 GiB maxmemory', async () => {
    const m = await redis.memory(T);
    expect(m.usedBytes).toBeGreaterThan(100 * 1024);
    expect(m.maxBytes).toBe(1024 * 1024 * 1024);
    expect(m.policy).toBe('allkeys-lru');
    expect(parseInfo('# Memory\r\nused_memory:42\r\nmaxmemory:0\r\n')).toEqual({ used_memory: '42', maxmemory: '0' });
  });

  it('a wrong port is unreachable, promptly', async () => {
    const port = await closedPort();
    const started = Date.now();
    const e = await failure(other(`redis://127.0.0.1:${port}/0`).ping(T), 'unreachable', 'erp-redis');
    expect(e.message).toContain(`127.0.0.1:${port}`);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a password in the URL never shows in messages', async () => {
    const port = await closedPort();
    const e = await failure(other(`redis://:s3cret-pass@127.0.0.1:${port}/0`).memory(T), 'unreachable');
    expect(e.message).not.toContain('s3cret-pass');
    expect(e.message).toContain('****');
  });

  it('a server that never answers is a timeout within the deadline', async () => {
    const hang = await startHangingServer();
    try {
      const r = other(`redis://127.0.0.1:${hang.port}/0`);
      await timesOut((timeoutMs) => r.ping({ timeoutMs }), 300, 'erp-redis');
      await timesOut((timeoutMs) => r.memory({ timeoutMs }), 200, 'erp-redis');
    } finally {
      await hang.close();
    }
  });

  it('a paused Redis is a timeout; the next call after it resumes reconnects and succeeds', async () => {
    await redis.ping(T);
    const r = await docker('POST', '/containers/erp-redis/pause');
    expect(r.status).toBe(204);
    try {
      await timesOut((timeoutMs) => redis.ping({ timeoutMs }), 300, 'erp-redis');
    } finally {
      await docker('POST', '/containers/erp-redis/unpause');
    }
    const p = await waitFor('ping after unpause', async () => redis.ping({ timeoutMs: 2000 }).catch(() => undefined), 15000, 100);
    expect(p.latencyMs).toBeGreaterThanOrEqual(0);
    await waitFor('erp-redis healthy', async () => (await healthStatus('erp-redis')) === 'healthy', 30000);
  });
});
