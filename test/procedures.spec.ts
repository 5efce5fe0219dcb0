import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { z } from 'zod';
import { Role } from '../src/common/rights';
import { EscalationError, ProcedureDefinition } from '../src/procedures/procedure';
import { ProcedureRegistry } from '../src/procedures/procedure-registry';
import { RunnerService } from '../src/procedures/runner.service';
import { withClient } from './helpers/db';
import { startTestApp, TestApp } from './helpers/test-app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Procedures made for these tests: they touch nothing but a record of what they did. */
const touched: string[] = [];
function fixture(
  id: string,
  options: Partial<ProcedureDefinition> & {
    stepMs?: number;
    failAt?: string;
    escalate?: { level: 'P1' | 'P2' | 'P3'; situation?: string };
  } = {},
): ProcedureDefinition<{ label?: string; waitMs?: number }> {
  const step = (stepId: string) => ({
    id: stepId,
    title: `step ${stepId}`,
    timeoutMs: 2000,
    plan: async (ctx: { parameters: { label?: string } }) => ({ wouldTouch: `${stepId}:${ctx.parameters.label ?? 'x'}` }),
    run: async (ctx: { runId: string; parameters: { waitMs?: number } }) => {
      await sleep(ctx.parameters.waitMs ?? options.stepMs ?? 10);
      if (options.failAt === stepId) throw new Error(`${stepId} broke`);
      if (options.escalate && stepId === 'two')
        throw new EscalationError('the line is still down', { seen: 1 }, options.escalate.level, options.escalate.situation);
      touched.push(`${ctx.runId}:${stepId}`);
      return { did: stepId };
    },
  });
  return {
    id,
    title: `fixture ${id}`,
    severity: 'P3',
    domain: 'system',
    parameters: z.object({ label: z.string().max(20).optional(), waitMs: z.number().int().min(0).max(3000).optional() }).strict(),
    locks: () => [`test:${id.replace(/\./g, '-')}`],
    requiresApproval: false,
    steps: [step('one'), step('two')],
    ...options,
  };
}

describe('the procedure runner', () => {
  let t: TestApp;
  const tokens = new Map<string, string>();
  const as = (who: string) => `Bearer ${tokens.get(who)}`;

  before(async () => {
    t = await startTestApp();
    const registry = t.app.get(ProcedureRegistry);
    registry.register(fixture('test.simple'));
    registry.register(fixture('test.slow', { stepMs: 800 }));
    registry.register(fixture('test.broken', { failAt: 'one' }));
    registry.register(fixture('test.p2', { severity: 'P2' }));
    // Procedures answering a row of the escalation table, and escalating to one.
    registry.register(
      fixture('test.data-at-risk', { severity: 'P1', domain: 'database', situation: 'data-at-risk', requiresApproval: true }),
    );
    registry.register(fixture('test.high-error-rate', { severity: 'P2', situation: 'high-error-rate' }));
    registry.register(fixture('test.error-rate', { escalate: { level: 'P2', situation: 'high-error-rate' } }));
    registry.register(fixture('test.raised', { situation: 'single-user', escalate: { level: 'P1' } }));
    registry.register(
      fixture('test.restore', {
        severity: 'P1',
        domain: 'database',
        requiresApproval: true,
        confirmation: (_p, inventory) => new URL(inventory.erpDatabase.url).pathname.slice(1),
        locks: () => ['test:restore'],
      }),
    );
    for (const [who, role] of [
      ['viewer', Role.Viewer],
      ['operator', Role.Operator],
      ['dba', Role.Dba],
      ['dba2', Role.Dba],
      ['senior', Role.SeniorDev],
    ] as const) {
      tokens.set(who, await t.tokenFor(role));
    }
  });
  after(() => t.close());

  const request = (id: string, body: object, who = 'operator') =>
    t.http().post(`/api/v1/procedures/${id}/runs`).set('Authorization', as(who)).send(body);
  const get = (runId: string) => t.http().get(`/api/v1/runs/${runId}`).set('Authorization', as('viewer'));
  const until = async (runId: string, statuses: string[], ms = 10000) => {
    const end = Date.now() + ms;
    let res = await get(runId);
    while (!statuses.includes(res.body.status) && Date.now() < end) {
      await sleep(100);
      res = await get(runId);
    }
    return res.body;
  };

  it('lists the procedures with their severity and who may request them', async () => {
    const res = await t.http().get('/api/v1/procedures').set('Authorization', as('viewer'));
    const restore = res.body.find((p: { id: string }) => p.id === 'test.restore');
    expect(restore).toMatchObject({
      severity: 'P1',
      domain: 'database',
      requiresApproval: true,
      confirmation: true,
      roles: ['dba', 'admin'],
    });
  });

  it('a dry run plans every step and runs none', async () => {
    const res = await request('test.simple', { dryRun: true, parameters: { label: 'abc' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'succeeded', dryRun: true });
    expect(res.body.steps.map((s: { status: string; plan: unknown }) => [s.status, s.plan])).toEqual([
      ['planned', { wouldTouch: 'one:abc' }],
      ['planned', { wouldTouch: 'two:abc' }],
    ]);
    expect(touched.filter((x) => x.startsWith(res.body.id))).toEqual([]);
  });

  it('a real run is queued, runs its steps in a worker, and is recorded and audited', async () => {
    const res = await request('test.simple', { parameters: { label: 'real' } });
    expect(res.status).toBe(201);
    expect(['queued', 'running', 'succeeded']).toContain(res.body.status);
    const done = await until(res.body.id, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.steps.map((s: { status: string; output: unknown }) => [s.status, s.output])).toEqual([
      ['succeeded', { did: 'one' }],
      ['succeeded', { did: 'two' }],
    ]);
    expect(touched).toEqual(expect.arrayContaining([`${res.body.id}:one`, `${res.body.id}:two`]));
    const audit = await withClient(t.database, (c) =>
      c.query("SELECT actor, target, outcome FROM audit_entries WHERE action = 'procedure.request'"),
    );
    expect(audit.rows).toEqual(expect.arrayContaining([expect.objectContaining({ target: 'procedure:test.simple', outcome: 'success' })]));
  });

  it('refuses a second run needing a held resource at once with 409 naming the holder', async () => {
    const first = await request('test.slow', {});
    await until(first.body.id, ['running']);
    const second = await request('test.slow', {});
    expect(second.status).toBe(409);
    expect(second.body.details).toEqual({ resource: 'test:test-slow', heldBy: first.body.id });
    expect(second.body.message).toContain(first.body.id);
    expect((await until(first.body.id, ['succeeded'])).status).toBe('succeeded');
    // Released on ending.
    const third = await request('test.slow', { dryRun: false, parameters: { waitMs: 0 } });
    expect(third.status).toBe(201);
    await until(third.body.id, ['succeeded']);
  });

  it('a failing step fails the run, skips the rest and releases the lock', async () => {
    const res = await request('test.broken', {});
    const done = await until(res.body.id, ['failed']);
    expect(done).toMatchObject({ status: 'failed', error: 'one: one broke' });
    expect(done.steps.map((s: { status: string }) => s.status)).toEqual(['failed', 'skipped']);
    expect((await request('test.broken', { dryRun: true })).status).toBe(201);
    expect((await request('test.broken', {})).status).toBe(201); // the lock was released
  });

  it('cancels between steps', async () => {
    const res = await request('test.slow', { parameters: { waitMs: 1200 } });
    await until(res.body.id, ['running']);
    const cancel = await t.http().post(`/api/v1/runs/${res.body.id}/cancel`).set('Authorization', as('operator'));
    expect(cancel.status).toBe(200);
    const done = await until(res.body.id, ['cancelled', 'succeeded'], 8000);
    expect(done.status).toBe('cancelled');
    expect(done.steps.map((s: { status: string }) => s.status)).toEqual(['succeeded', 'cancelled']);
    expect((await t.http().post(`/api/v1/runs/${res.body.id}/cancel`).set('Authorization', as('operator'))).status).toBe(409);
  });

  it("checks each procedure's own level: an operator cannot run a P2 procedure (403 naming whom to escalate to), a viewer none", async () => {
    const p2 = await request('test.p2', {});
    expect(p2.status).toBe(403);
    expect(p2.body.details).toMatchObject({
      procedure: 'test.p2',
      level: 'P2',
      yourRole: 'operator',
      escalateTo: ['Support', 'Senior Dev'],
      responseMinutes: 15,
    });
    expect((await request('test.simple', {}, 'viewer')).status).toBe(403);
    expect((await request('test.p2', {}, 'senior')).status).toBe(201);
  });

  it("names the escalation table's row, not the whole level: refusals and escalations of a procedure answering a situation", async () => {
    // Listed with the row each answers.
    const listed = (await t.http().get('/api/v1/procedures').set('Authorization', as('viewer'))).body;
    const byId = Object.fromEntries(listed.map((p: any) => [p.id, p.situation]));
    expect([byId['test.data-at-risk'], byId['test.high-error-rate'], byId['test.simple']]).toEqual([
      'data-at-risk',
      'high-error-rate',
      null,
    ]);
    // P1 "Data at risk" is Senior Dev + DBA; the P1 level also holds "System down" (On-Call Senior Dev).
    const data = await request('test.data-at-risk', { confirm: 'x' }, 'operator');
    expect([data.status, data.body.message]).toEqual([
      403,
      'operator may not run test.data-at-risk: it is a P1 database procedure; escalate to Senior Dev, DBA',
    ]);
    expect(data.body.details).toMatchObject({
      level: 'P1',
      escalateTo: ['Senior Dev', 'DBA'],
      situation: 'Data at risk',
      responseMinutes: 5,
    });
    // P2 "High error rate" is the Senior Dev alone; the P2 level also holds "API slow" (Support + Senior Dev).
    const rate2 = await request('test.high-error-rate', {}, 'operator');
    expect(rate2.status).toBe(403);
    expect(rate2.body.details).toMatchObject({ escalateTo: ['Senior Dev'], situation: 'High error rate', responseMinutes: 15 });
    // Escalated by a step to P2 "High error rate": the Senior Dev, not Support.
    const rate = await request('test.error-rate', {});
    expect(rate.status).toBe(201);
    const escalated = await until(rate.body.id, ['escalated', 'failed', 'succeeded']);
    expect([escalated.status, escalated.error]).toEqual([
      'escalated',
      'the line is still down; escalate to Senior Dev (P2, High error rate, 15 min)',
    ]);
    expect(escalated.steps[1].output).toEqual({ seen: 1, escalateTo: ['Senior Dev'], level: 'P2', situation: 'High error rate' });
    // Escalated to a level without the procedure's situation: that level's contacts, every row's.
    const raised = await until((await request('test.raised', {})).body.id, ['escalated', 'failed', 'succeeded']);
    expect([raised.status, raised.error]).toEqual([
      'escalated',
      'the line is still down; escalate to On-Call Senior Dev, Senior Dev, DBA (P1, 5 min)',
    ]);
    expect(raised.steps[1].output).toEqual({ seen: 1, escalateTo: ['On-Call Senior Dev', 'Senior Dev', 'DBA'], level: 'P1' });
  });

  it('refuses bad parameters with 400 naming them, and writes nothing', async () => {
    const before = await withClient(t.database, (c) => c.query('SELECT count(*)::int AS n FROM procedure_runs'));
    const unknown = await request('test.simple', { parameters: { label: 'x', path: '/etc/passwd' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/parameters: unknown parameter\(s\) path/);
    const wrong = await request('test.simple', { parameters: { waitMs: -5 } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toMatch(/parameters.waitMs/);
    expect((await request('test.simple', { parameters: 'x' })).status).toBe(400);
    expect((await t.http().post('/api/v1/procedures/..%2Fetc/runs').set('Authorization', as('operator')).send({})).status).toBe(400);
    expect((await request('no.such-procedure', {})).status).toBe(404);
    const afterCount = await withClient(t.database, (c) => c.query('SELECT count(*)::int AS n FROM procedure_runs'));
    expect(afterCount.rows[0].n).toBe(before.rows[0].n);
  });

  it('a P1 data-at-risk procedure needs typed confirmation and a second person of the complementary role', async () => {
    const missing = await request('test.restore', {}, 'dba');
    expect(missing.status).toBe(400);
    expect(missing.body.message).toMatch(/confirm: must equal "erp_quty_karunia_prod"/);
    expect((await request('test.restore', { confirm: 'erp_quty_karunia_prod' }, 'operator')).status).toBe(403);
    const asked = await request('test.restore', { confirm: 'erp_quty_karunia_prod' }, 'dba');
    expect(asked.status).toBe(201);
    expect(asked.body.status).toBe('awaiting_approval');
    const id = asked.body.id;
    const self = await t.http().post(`/api/v1/runs/${id}/approve`).set('Authorization', as('dba'));
    expect(self.status).toBe(403);
    expect(self.body.message).toMatch(/second, different person/);
    const sameRole = await t.http().post(`/api/v1/runs/${id}/approve`).set('Authorization', as('dba2'));
    expect(sameRole.status).toBe(403);
    expect(sameRole.body.details.approverRoles).toEqual(['senior_dev']);
    expect((await get(id)).body.status).toBe('awaiting_approval');
    const approved = await t.http().post(`/api/v1/runs/${id}/approve`).set('Authorization', as('senior'));
    expect(approved.status).toBe(200);
    const done = await until(id, ['succeeded', 'failed']);
    expect(done).toMatchObject({ status: 'succeeded', approvedBy: expect.any(String) });
    const refusals = await withClient(t.database, (c) =>
      c.query("SELECT count(*)::int AS n FROM audit_entries WHERE action = 'procedure.approve' AND outcome = 'denied'"),
    );
    expect(refusals.rows[0].n).toBeGreaterThanOrEqual(2);
    // A rejection ends the run.
    const again = await request('test.restore', { confirm: 'erp_quty_karunia_prod' }, 'dba');
    const rejected = await t.http().post(`/api/v1/runs/${again.body.id}/reject`).set('Authorization', as('senior'));
    expect(rejected.body.status).toBe('rejected');
  });

  it('marks a run whose worker died as interrupted', async () => {
    const id = randomUUID();
    await withClient(t.database, (c) =>
      c.query(
        `INSERT INTO procedure_runs (id, procedure_id, severity, dry_run, status, parameters, requested_by, requested_role, current_step, created_at, started_at)
         VALUES ($1, 'test.slow', 'P3', false, 'running', '{}', 'someone', 'operator', 'two', now(), now())`,
        [id],
      ),
    );
    expect(await t.app.get(RunnerService).sweepInterrupted()).toBeGreaterThanOrEqual(1);
    const run = (await get(id)).body;
    expect(run).toMatchObject({ status: 'interrupted', error: 'the worker stopped during two' });
  });
});
