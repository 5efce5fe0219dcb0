import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { DomainError } from '../src/common/errors';
import { ResourceLocks } from '../src/procedures/resource-locks';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('resource locks in the real Redis', () => {
  let redis: Redis;
  let other: Redis;
  let locks: ResourceLocks;
  let replica: ResourceLocks;

  before(() => {
    const keyPrefix = `t:locks:${randomBytes(4).toString('hex')}:`;
    redis = new Redis('redis://127.0.0.1:6379/0', { keyPrefix });
    other = new Redis('redis://127.0.0.1:6379/0', { keyPrefix });
    locks = new ResourceLocks(redis);
    replica = new ResourceLocks(other); // a second replica sharing the same Redis
  });
  after(async () => {
    await redis.quit();
    await other.quit();
  });

  it('refuses a second holder at once with CONFLICT naming the holder, and frees on release', async () => {
    const lease = await locks.acquire(['erp:postgres'], 'run-a');
    const refused = await replica.acquire(['erp:postgres'], 'run-b').catch((e) => e);
    expect(refused).toBeInstanceOf(DomainError);
    expect((refused as DomainError).status).toBe(409);
    expect((refused as DomainError).details).toEqual({ resource: 'erp:postgres', heldBy: 'run-a' });
    expect((refused as DomainError).message).toContain('run-a');
    await lease.release();
    const next = await replica.acquire(['erp:postgres'], 'run-b');
    expect(await locks.holderOf('erp:postgres')).toBe('run-b');
    await next.release();
    expect(await locks.holderOf('erp:postgres')).toBeNull();
  });

  it('takes several resources all or nothing', async () => {
    const held = await locks.acquire(['erp:backend'], 'run-c');
    await expect(replica.acquire(['erp:postgres', 'erp:backend'], 'run-d')).rejects.toThrow(/erp:backend is held by run run-c/);
    expect(await locks.holderOf('erp:postgres')).toBeNull(); // nothing taken
    await held.release();
  });

  it("keeps a lease alive with its heartbeat, and lets a dead holder's lease expire", async () => {
    const alive = await locks.acquire(['erp:redis'], 'run-e', 300);
    await sleep(900); // three leases long: the heartbeat extended it
    expect(await locks.holderOf('erp:redis')).toBe('run-e');
    expect(alive.held).toBe(true);
    await alive.release();
    // A holder that died: its key was set but nothing extends it.
    await redis.set('lock:erp:nginx', 'run-dead', 'PX', 300);
    await expect(replica.acquire(['erp:nginx'], 'run-f')).rejects.toThrow(/run-dead/);
    await sleep(400);
    const taken = await replica.acquire(['erp:nginx'], 'run-f');
    expect(await locks.holderOf('erp:nginx')).toBe('run-f');
    await taken.release();
  });

  it('releases only what the holder holds', async () => {
    const lease = await locks.acquire(['erp:kibana'], 'run-g', 300);
    await lease.release();
    const next = await replica.acquire(['erp:kibana'], 'run-h');
    await lease.release(); // a second, late release must not free run-h's lock
    expect(await locks.holderOf('erp:kibana')).toBe('run-h');
    await next.release();
  });

  it('takes a lease back when its key vanished (Redis restarted without its keys) while the holder still runs', async () => {
    const lease = await locks.acquire(['erp:grafana'], 'run-i', 300);
    await redis.del('lock:erp:grafana'); // what a restart without persistence does
    expect(await locks.holderOf('erp:grafana')).toBeNull();
    await sleep(250); // one heartbeat (every 100 ms here)
    expect(await locks.holderOf('erp:grafana')).toBe('run-i');
    expect(lease.held).toBe(true);
    // …but never from another holder that took it meanwhile.
    await redis.set('lock:erp:grafana', 'run-j', 'PX', 5000);
    await sleep(250);
    expect(await locks.holderOf('erp:grafana')).toBe('run-j');
    expect(lease.held).toBe(false);
    await lease.release();
    await redis.del('lock:erp:grafana');
  });

  it('releases again in the background when Redis did not answer at the release', async () => {
    // A Redis that fails the first release (unreachable for a moment) and answers the next.
    let failures = 1;
    const flaky = new Proxy(redis, {
      get(target, prop, receiver) {
        if (prop === 'eval') {
          return (script: string, ...args: unknown[]) => {
            if (/redis.call\('DEL'/.test(script) && failures-- > 0)
              return Promise.reject(new Error("Stream isn't writeable and enableOfflineQueue options is false"));
            return (target.eval as (...a: unknown[]) => Promise<unknown>)(script, ...args);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const flakyLocks = new ResourceLocks(flaky as Redis);
    const lease = await flakyLocks.acquire(['erp:logstash'], 'run-k', 30_000);
    await expect(lease.release()).rejects.toThrow(/Stream isn't writeable/);
    expect(await locks.holderOf('erp:logstash')).toBe('run-k');
    await sleep(1500);
    // Freed long before its 30 s lease would have expired.
    expect(await locks.holderOf('erp:logstash')).toBeNull();
  });
});
