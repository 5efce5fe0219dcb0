import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../src/common/rights';
import { ProcedureRegistry } from '../src/procedures/procedure-registry';
import { ResourceLocks } from '../src/procedures/resource-locks';
import { RunExecutor } from '../src/procedures/run-executor';
import { RunnerService } from '../src/procedures/runner.service';
import { withClient } from './helpers/db';
import { ran, waitingProcedure } from './helpers/procedure-fixtures';
import { openSse } from './helpers/sse-client';
import { startTestApp, TestApp } from './helpers/test-app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cancelling a running step, and approval expiry', () => {
  let t: TestApp;
  let replica: TestApp;
  const tokens = new Map<string, string>();
  const as = (who: string) => `Bearer ${tokens.get(who)}`;
  const register = (app: TestApp) => {
    const registry = app.app.get(ProcedureRegistry);
    registry.register(waitingProcedure('test.observes', { waitMs: 60_000 }));
    registry.register(waitingProcedure('test.ignores', { ignoreSignal: true, timeoutMs: 1500, waitMs: 6000 }));
    registry.register(waitingProcedure('test.approved', { requiresApproval: true }));
  };

  before(async () => {
    t = await startTestApp({ env: { OPS_APPROVAL_TTL_SECONDS: '1' } });
    replica = await startTestApp({ shareWith: t, env: { OPS_APPROVAL_TTL_SECONDS: '1' } });
    register(t);
    register(replica);
    for (const [who, role] of [
      ['viewer', Role.Viewer],
      ['operator', Role.Operator],
      ['senior', Role.SeniorDev],
    ] as const) {
      tokens.set(who, await t.tokenFor(role));
    }
  });
  after(async () => {
    await replica.close();
    await t.close();
  });

  const request = (id: string, body: object, who = 'operator') =>
    t.http().post(`/api/v1/procedures/${id}/runs`).set('Authorization', as(who)).send(body);
  const get = (runId: string) => t.http().get(`/api/v1/runs/${runId}`).set('Authorization', as('viewer'));
  const until = async (runId: string, match: (run: any) => boolean, ms = 10000) => {
    const end = Date.now() + ms;
    let res = await get(runId);
    while (!match(res.body) && Date.now() < end) {
      await sleep(25);
      res = await get(runId);
    }
    return res.body;
  };
  /** The instance whose worker executes the run, and the other one. */
  const executorOf = (runId: string): [TestApp, TestApp] => (t.app.get(RunExecutor).isActive(runId) ? [t, replica] : [replica, t]);

  it("aborts the running step's signal at once, from another replica: step and rest cancelled, run cancelled, lock released", async () => {
    const res = await request('test.observes', {});
    expect(res.status).toBe(201);
    const id = res.body.id;
    await until(id, (r) => r.steps[0].status === 'running');
    const [, other] = executorOf(id);
    const stream = await openSse(`${t.url}/api/v1/runs/${id}/events`, tokens.get('viewer'));
    const asked = Date.now();
    const cancel = await other.http().post(`/api/v1/runs/${id}/cancel`).set('Authorization', as('operator'));
    expect(cancel.status).toBe(200);
    const done = await until(id, (r) => r.status === 'cancelled', 5000);
    expect(Date.now() - asked).toBeLessThan(1000);
    expect(done).toMatchObject({ status: 'cancelled', error: 'cancelled during one' });
    expect(done.steps.map((s: { status: string; error: string | null }) => [s.status, s.error])).toEqual([
      ['cancelled', 'cancelled while running'],
      ['cancelled', null],
    ]);
    expect(ran.filter((x) => x.startsWith(id))).toEqual([]);
    await stream.ended;
    expect(stream.events.slice(-2).map((e) => [e.event, e.data.status])).toEqual([
      ['step', 'cancelled'],
      ['status', 'cancelled'],
    ]);
    expect(await t.app.get(ResourceLocks).holderOf('test:test-observes')).toBeNull();
    const next = await request('test.observes', { parameters: { waitMs: 0 } });
    expect(next.status).toBe(201);
    expect((await until(next.body.id, (r) => r.status === 'succeeded')).status).toBe('succeeded');
  });

  it('a step that ignores its signal is given up at its own timeout; the run is still cancelled and the rest never runs', async () => {
    const res = await request('test.ignores', {});
    const id = res.body.id;
    const running = await until(id, (r) => r.steps[0].status === 'running');
    expect(running.status).toBe('running');
    const asked = Date.now();
    expect((await t.http().post(`/api/v1/runs/${id}/cancel`).set('Authorization', as('operator'))).status).toBe(200);
    const done = await until(id, (r) => r.status !== 'running', 8000);
    const took = Date.now() - asked;
    expect(done.status).toBe('cancelled');
    expect(took).toBeLessThan(4000); // the timeout (1.5 s), not the step's 6 s
    expect(done.steps[0]).toMatchObject({
      status: 'cancelled',
      error: 'cancelled; the step did not stop on its signal: one timed out after 1500 ms',
    });
    expect(done.steps[1].status).toBe('cancelled');
    await sleep(200);
    expect(ran.filter((x) => x === `${id}:two`)).toEqual([]);
    expect(await t.app.get(ResourceLocks).holderOf('test:test-ignores')).toBeNull();
  });

  it('a queued or awaiting run is cancelled at once, with a status event', async () => {
    const asked = await request('test.approved', {});
    expect(asked.body.status).toBe('awaiting_approval');
    const stream = await openSse(`${t.url}/api/v1/runs/${asked.body.id}/events`, tokens.get('viewer'));
    const cancel = await t.http().post(`/api/v1/runs/${asked.body.id}/cancel`).set('Authorization', as('operator'));
    expect(cancel.body).toMatchObject({ status: 'cancelled' });
    expect(cancel.body.steps.map((s: { status: string }) => s.status)).toEqual(['cancelled', 'cancelled']);
    await stream.ended;
    expect(stream.events.map((e) => e.event)).toEqual(['snapshot', 'status']);
  });

  it('expires a run nobody approved within OPS_APPROVAL_TTL_SECONDS: status event, audit entry by the system, approval refused', async () => {
    const asked = await request('test.approved', {});
    const id = asked.body.id;
    expect(asked.body).toMatchObject({ status: 'awaiting_approval' });
    expect(new Date(asked.body.approvalExpiresAt).getTime() - new Date(asked.body.createdAt).getTime()).toBe(1000);
    const stream = await openSse(`${t.url}/api/v1/runs/${id}/events`, tokens.get('viewer'));
    await stream.waitFor((e) => e.event === 'snapshot');
    expect(await t.app.get(RunnerService).sweepExpired()).toBe(0);
    await sleep(1100);
    expect(await t.app.get(RunnerService).sweepExpired()).toBe(1);
    expect(await replica.app.get(RunnerService).sweepExpired()).toBe(0); // once, whichever replica sweeps
    const run = (await get(id)).body;
    expect(run).toMatchObject({
      status: 'expired',
      error: `no approval before ${asked.body.approvalExpiresAt}`,
      finishedAt: expect.any(String),
    });
    await stream.ended;
    expect(stream.events[stream.events.length - 1]).toMatchObject({ event: 'status', data: { status: 'expired' } });
    const audit = await withClient(t.database, (c) =>
      c.query("SELECT actor, actor_role, target, outcome, parameters FROM audit_entries WHERE action = 'procedure.expire'"),
    );
    expect(audit.rows).toEqual([
      {
        actor: 'system',
        actor_role: null,
        target: id,
        outcome: 'success',
        parameters: expect.objectContaining({ procedure: 'test.approved' }),
      },
    ]);
    const late = await t.http().post(`/api/v1/runs/${id}/approve`).set('Authorization', as('senior'));
    expect(late.status).toBe(409);
    const verify = await t.http().get('/api/v1/audit/verify').set('Authorization', as('viewer'));
    expect([verify.status, verify.body.valid]).toEqual([200, true]);
  });
});
