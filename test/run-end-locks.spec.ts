import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import Redis from 'ioredis';
import { Role } from '../src/common/rights';
import { ProcedureRegistry } from '../src/procedures/procedure-registry';
import { slottedProcedure } from './helpers/procedure-fixtures';
import { startTestApp, TestApp } from './helpers/test-app';

/**
 * A run shown as ended holds no lock: its locks are freed before its end is recorded and
 * published (a client that sees "succeeded" may ask at once for the next run needing the same
 * resource, and got 409 "held by run <the ended one>" when the end was recorded first).
 */
describe('the end of a run and its locks', () => {
  let t: TestApp;
  let token: string;
  let keys: Redis;
  let events: Redis;

  before(async () => {
    t = await startTestApp({ env: { OPS_STATS_SAMPLER: 'false' } });
    t.app.get(ProcedureRegistry).register(slottedProcedure('test.ending', { waitMs: 300 }));
    token = await t.tokenFor(Role.Operator);
    keys = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0', { keyPrefix: t.redisPrefix });
    events = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0');
  });
  after(async () => {
    keys.disconnect();
    events.disconnect();
    await t.close();
  });

  it('frees the locks before the end is recorded and published, so the next run is never refused by an ended one', async () => {
    for (let round = 0; round < 5; round++) {
      const asked = await t
        .http()
        .post('/api/v1/procedures/test.ending/runs')
        .set('Authorization', `Bearer ${token}`)
        .send({ parameters: { slot: 1 } });
      expect(asked.status).toBe(201);
      const id = asked.body.id as string;
      await events.subscribe(`run-events:${id}`);
      const holderAtEnd = await new Promise<string | null>((resolve) => {
        const onMessage = (channel: string, message: string) => {
          const event = JSON.parse(message);
          if (channel !== `run-events:${id}` || event.type !== 'status' || event.status !== 'succeeded') return;
          events.off('message', onMessage);
          // Redis runs commands in order: what the runner did before publishing is visible now.
          resolve(keys.get('lock:test:test-ending-1'));
        };
        events.on('message', onMessage);
      });
      await events.unsubscribe(`run-events:${id}`);
      expect(holderAtEnd).toBeNull();
      const run = await t.http().get(`/api/v1/runs/${id}`).set('Authorization', `Bearer ${token}`);
      expect(run.body.status).toBe('succeeded');
    }
  });
});
