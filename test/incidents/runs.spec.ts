import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';
import { z } from 'zod';
import { Role } from '../../src/common/rights';
import { IncidentRuns } from '../../src/modules/incidents/incident-runs';
import { ProcedureDefinition } from '../../src/procedures/procedure';
import { ProcedureRegistry } from '../../src/procedures/procedure-registry';
import { withClient } from '../helpers/db';
import { Person, TestApp } from '../helpers/test-app';
import { incidentWorld, IncidentWorld, waitUntil } from './helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const UNKNOWN = 'INC-20991231-999';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What the fixture steps did, by run id: a dry run or a refused run touches nothing. */
const touched: string[] = [];

/** Procedures made for these tests: two steps that touch nothing but `touched`; `failWith` breaks step two. */
function fixture(
  id: string,
  options: { severity?: 'P1' | 'P2' | 'P3'; failWith?: string; confirm?: string } = {},
): ProcedureDefinition<{ label?: string; waitMs?: number }> {
  const step = (stepId: string) => ({
    id: stepId,
    title: `step ${stepId}`,
    timeoutMs: 10_000,
    plan: async (ctx: { parameters: { label?: string } }) => ({ wouldTouch: `${stepId}:${ctx.parameters.label ?? 'x'}` }),
    run: async (ctx: { runId: string; parameters: { waitMs?: number } }) => {
      if (stepId === 'one') await sleep(ctx.parameters.waitMs ?? 10);
      if (stepId === 'two' && options.failWith) throw new Error(options.failWith);
      touched.push(`${ctx.runId}:${stepId}`);
      return { did: stepId };
    },
  });
  return {
    id,
    title: `fixture ${id}`,
    severity: options.severity ?? 'P3',
    domain: 'system',
    parameters: z.object({ label: z.string().max(20).optional(), waitMs: z.number().int().min(0).max(5000).optional() }).strict(),
    ...(options.confirm ? { confirmation: () => options.confirm! } : {}),
    locks: () => [`test:${id.replace(/\./g, '-')}`],
    requiresApproval: false,
    steps: [step('one'), step('two')],
  };
}

function registerFixtures(app: TestApp): void {
  const registry = app.app.get(ProcedureRegistry);
  registry.register(fixture('test.incident-fix'));
  registry.register(fixture('test.incident-broken', { failWith: 'the worker did not come back' }));
  registry.register(fixture('test.incident-p2', { severity: 'P2' }));
  registry.register(fixture('test.incident-confirm', { severity: 'P2', confirm: 'erp-backend' }));
}

interface Event {
  id: number;
  type: string;
  actor: string | null;
  message: string;
  data: Record<string, any>;
}

/** A world of one or two replicas ticking, with the fixtures on each and one person per role. */
async function runsWorld(options: { replica: boolean; checkMs?: number }) {
  // Scale 1: no escalation or reminder happens while a test runs; only the runs change the timeline.
  const env: Record<string, string> = { OPS_INCIDENT_TIME_SCALE: '1' };
  if (options.checkMs) env.OPS_INCIDENT_CHECK_MS = String(options.checkMs);
  const w: IncidentWorld = await incidentWorld({ env });
  const b = options.replica ? await w.replica() : undefined;
  for (const app of [w.t, b]) if (app) registerFixtures(app);
  const people: Map<string, Person> = await w.t.people({
    admin: Role.Admin,
    operator: Role.Operator,
    senior: Role.SeniorDev,
    viewer: Role.Viewer,
  });
  const jwt = (who: string) => (who === 'alertmanager' ? w.alertmanager : people.get(who)!.jwt);
  const name = (who: string) => people.get(who)!.username;
  const post = (id: string, body: object, who = 'operator', app = w.t) =>
    app
      .http()
      .post(`/api/v1/incidents/${id}/runs`)
      .set('authorization', `Bearer ${jwt(who)}`)
      .send(body);
  const detail = async (id: string) => {
    const res = await w.t
      .http()
      .get(`/api/v1/incidents/${id}`)
      .set('authorization', `Bearer ${jwt('viewer')}`);
    expect([res.status, res.body.message]).toEqual([200, undefined]);
    return res.body as { timeline: Event[]; runs: Record<string, unknown>[]; plan: { status: string } | null };
  };
  const runEvents = async (id: string) => (await detail(id)).timeline.filter((e) => e.type === 'run_requested' || e.type === 'run_ended');
  const ended = (id: string, runId: string) =>
    waitUntil(`run ${runId} ended in the timeline of ${id}`, async () =>
      (await runEvents(id)).some((e) => e.type === 'run_ended' && e.data.runId === runId),
    );
  /** Opens an incident by hand and waits until its own background work is done (plan computed, pages sent). */
  const open = async (procedureId?: string) => {
    const res = await w.t
      .http()
      .post('/api/v1/incidents')
      .set('authorization', `Bearer ${jwt('operator')}`)
      .send({ title: 'Stock sync stalls', severity: 'P3', component: 'worker', ...(procedureId ? { procedureId } : {}) });
    expect([res.status, res.body.message]).toEqual([201, undefined]);
    const id = res.body.id as string;
    await waitUntil(`${id} settled`, async () => {
      const i = await detail(id);
      const planned = procedureId ? i.timeline.some((e) => e.type === 'plan_computed') : true;
      const sent = await withClient(
        w.t.database,
        async (c) => (await c.query("SELECT 1 FROM incident_pages WHERE incident_id = $1 AND status = 'pending'", [id])).rowCount === 0,
      );
      return planned && sent;
    });
    return id;
  };
  const audited = async (sinceId: number) =>
    (
      await withClient(w.t.database, (c) =>
        c.query("SELECT actor, outcome, target, error_code FROM audit_entries WHERE action = 'incidents.run' AND id > $1 ORDER BY id", [
          sinceId,
        ]),
      )
    ).rows;
  const lastAuditId = async () =>
    (await withClient(w.t.database, (c) => c.query('SELECT coalesce(max(id), 0)::int AS id FROM audit_entries'))).rows[0].id as number;
  const runOf = async (runId: string) =>
    (
      await w.t
        .http()
        .get(`/api/v1/runs/${runId}`)
        .set('authorization', `Bearer ${jwt('viewer')}`)
    ).body;
  return { w, b, jwt, name, post, detail, runEvents, ended, open, audited, lastAuditId, runOf };
}

/**
 * Issue 14, "A run started from the incident appears in its timeline with its outcome": a run
 * requested from an incident goes through the runner (rights, confirmation, locks) and is
 * linked to the incident; its end is written into the timeline once, whatever the replicas do;
 * a refused request leaves the incident as it was.
 */
describe('runs started from an incident', () => {
  let r: Awaited<ReturnType<typeof runsWorld>>;
  before(async () => {
    r = await runsWorld({ replica: true });
  });
  after(() => r.w.close());

  it("runs the incident's suggested procedure by default: 202 with both ids, run_requested, then one run_ended succeeded; the incident lists the run", async () => {
    const id = await r.open('test.incident-fix');
    // Requested on the second replica; both replicas tick.
    const res = await r.post(id, { parameters: { label: 'sync', waitMs: 500 } }, 'operator', r.b);
    expect([res.status, res.body.message]).toEqual([202, undefined]);
    const runId = res.body.run.id as string;
    expect(runId).toMatch(UUID);
    expect(res.body).toEqual({ incident: id, run: { id: runId, procedureId: 'test.incident-fix', status: 'queued', dryRun: false } });
    await r.ended(id, runId);
    // Many more passes of both replicas: still one end.
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? r.w.t : r.b!).app.get(IncidentRuns).trackRuns()));
    await sleep(1000);

    const events = await r.runEvents(id);
    const operator = r.name('operator');
    expect(events.map((e) => [e.type, e.actor, e.message, e.data])).toEqual([
      [
        'run_requested',
        operator,
        `${operator} requested test.incident-fix (run ${runId})`,
        { runId, procedureId: 'test.incident-fix', dryRun: false, status: 'queued' },
      ],
      [
        'run_ended',
        null,
        `Run ${runId} of test.incident-fix ended succeeded`,
        { runId, procedureId: 'test.incident-fix', status: 'succeeded', error: null },
      ],
    ]);
    const run = await r.runOf(runId);
    expect(run).toMatchObject({ status: 'succeeded', requestedBy: operator, dryRun: false, error: null });
    expect(touched.filter((t) => t.startsWith(runId))).toEqual([`${runId}:one`, `${runId}:two`]);
    expect((await r.detail(id)).runs).toEqual([
      expect.objectContaining({
        run_id: runId,
        incident_id: id,
        procedure_id: 'test.incident-fix',
        requested_by: operator,
        ended_status: 'succeeded',
        ended_at: expect.any(String),
      }),
    ]);
    const audit = await withClient(r.w.t.database, (c) =>
      c.query("SELECT actor, outcome, target FROM audit_entries WHERE action = 'incidents.run' AND target = $1", [`run:${runId}`]),
    );
    expect(audit.rows).toEqual([{ actor: operator, outcome: 'success', target: `run:${runId}` }]);
  });

  it('a dry run and a named procedure that fails: each ends in the timeline, the failure with its error', async () => {
    const id = await r.open('test.incident-fix');
    const dry = await r.post(id, { dryRun: true, parameters: { label: 'dry' } });
    expect([dry.status, dry.body.message]).toEqual([202, undefined]);
    const dryId = dry.body.run.id as string;
    // A dry run is planned at once: it has ended when the answer comes.
    expect(dry.body).toEqual({ incident: id, run: { id: dryId, procedureId: 'test.incident-fix', status: 'succeeded', dryRun: true } });
    await r.ended(id, dryId);
    const broken = await r.post(id, { procedureId: 'test.incident-broken' }, 'senior');
    expect([broken.status, broken.body.message]).toEqual([202, undefined]);
    const brokenId = broken.body.run.id as string;
    expect(broken.body.run).toEqual({ id: brokenId, procedureId: 'test.incident-broken', status: 'queued', dryRun: false });
    await r.ended(id, brokenId);

    const [operator, senior] = [r.name('operator'), r.name('senior')];
    const events = await r.runEvents(id);
    expect(events.map((e) => [e.type, e.actor, e.message, e.data])).toEqual([
      [
        'run_requested',
        operator,
        `${operator} requested a dry run of test.incident-fix (run ${dryId})`,
        { runId: dryId, procedureId: 'test.incident-fix', dryRun: true, status: 'succeeded' },
      ],
      [
        'run_ended',
        null,
        `Run ${dryId} of test.incident-fix ended succeeded`,
        { runId: dryId, procedureId: 'test.incident-fix', status: 'succeeded', error: null },
      ],
      [
        'run_requested',
        senior,
        `${senior} requested test.incident-broken (run ${brokenId})`,
        { runId: brokenId, procedureId: 'test.incident-broken', dryRun: false, status: 'queued' },
      ],
      [
        'run_ended',
        null,
        `Run ${brokenId} of test.incident-broken ended failed: two: the worker did not come back`,
        { runId: brokenId, procedureId: 'test.incident-broken', status: 'failed', error: 'two: the worker did not come back' },
      ],
    ]);
    // The dry run planned and touched nothing; the failed run did step one, not two.
    const planned = await r.runOf(dryId);
    expect(planned.steps.map((s: any) => [s.stepId, s.status, s.plan])).toEqual([
      ['one', 'planned', { wouldTouch: 'one:dry' }],
      ['two', 'planned', { wouldTouch: 'two:dry' }],
    ]);
    expect(touched.filter((t) => t.startsWith(dryId))).toEqual([]);
    expect(touched.filter((t) => t.startsWith(brokenId))).toEqual([`${brokenId}:one`]);
    expect((await r.detail(id)).runs.map((x) => [x.run_id, x.procedure_id, x.requested_by, x.ended_status])).toEqual([
      [dryId, 'test.incident-fix', operator, 'succeeded'],
      [brokenId, 'test.incident-broken', senior, 'failed'],
    ]);
  });

  it('refuses without writing anything into the incident: 404, 400 naming the field, 403 naming whom to call, 409 for a held resource; audited', async () => {
    const suggesting = await r.open('test.incident-fix');
    const bare = await r.open();
    const state = async () => ({
      suggesting: (await r.detail(suggesting)).timeline.map((e) => e.id),
      bare: (await r.detail(bare)).timeline.map((e) => e.id),
      rows: (
        await withClient(r.w.t.database, (c) =>
          c.query(
            'SELECT (SELECT count(*) FROM incident_runs)::int AS links, (SELECT count(*) FROM procedure_runs)::int AS runs, (SELECT count(*) FROM incident_events)::int AS events',
          ),
        )
      ).rows[0],
    });
    // A run of the same procedure, started from the procedures, holds its lock for 5 s.
    const holder = await r.w.t
      .http()
      .post('/api/v1/procedures/test.incident-fix/runs')
      .set('authorization', `Bearer ${r.jwt('operator')}`)
      .send({ parameters: { waitMs: 5000 } });
    expect([holder.status, holder.body.message]).toEqual([201, undefined]);
    await waitUntil('the holder to run', async () => (await r.runOf(holder.body.id)).status === 'running');
    const before = await state();
    const since = await r.lastAuditId();
    const refusals: [string, string, object, number, RegExp][] = [
      ['operator', suggesting, {}, 409, new RegExp(`^test:test-incident-fix is held by run ${holder.body.id}; wait for it to end`)],
      ['admin', UNKNOWN, {}, 404, new RegExp(`^incident ${UNKNOWN} does not exist$`)],
      ['admin', 'INC-1', {}, 400, /^id: must be an incident id/],
      ['admin', bare, {}, 400, /^procedureId: this incident suggests no procedure: name one/],
      ['admin', bare, { procedureId: 'test.nope' }, 404, /^procedure test\.nope does not exist/],
      ['admin', suggesting, { procedureId: '../x' }, 400, /^procedureId: must be a procedure id/],
      ['admin', suggesting, { parameters: { label: 5 } }, 400, /^parameters\.label: /],
      ['admin', suggesting, { parameters: { bogus: 1 } }, 400, /^parameters: unknown parameter\(s\) bogus/],
      ['admin', suggesting, { parameters: 'all' }, 400, /^parameters: must be an object of parameters/],
      ['admin', suggesting, { dryRun: 'yes' }, 400, /^dryRun: must be true or false/],
      ['admin', suggesting, { runNow: true }, 400, /^runNow: /],
      ['senior', suggesting, { procedureId: 'test.incident-confirm' }, 400, /^confirm: must equal "erp-backend"/],
      ['senior', suggesting, { procedureId: 'test.incident-confirm', confirm: 'erp-frontend' }, 400, /^confirm: must equal "erp-backend"/],
      [
        'operator',
        suggesting,
        { procedureId: 'test.incident-p2' },
        403,
        /^operator may not run test\.incident-p2: it is a P2 system procedure; escalate to Support, Senior Dev$/,
      ],
      ['viewer', suggesting, {}, 403, /^viewer may not .*the right procedures\.run .*; escalate to Support$/],
      [
        'alertmanager',
        suggesting,
        {},
        403,
        /^the service identity .* may only alerts\.receive: the right procedures\.run is not among its scopes$/,
      ],
    ];
    for (const [who, id, body, status, message] of refusals) {
      const res = await r.post(id, body, who);
      expect([who, id, body, res.status, res.body.message]).toEqual([who, id, body, status, expect.stringMatching(message)]);
    }
    const p2 = await r.post(suggesting, { procedureId: 'test.incident-p2' }, 'operator');
    expect(p2.body.details).toMatchObject({
      procedure: 'test.incident-p2',
      level: 'P2',
      yourRole: 'operator',
      escalateTo: ['Support', 'Senior Dev'],
    });
    const viewer = await r.post(suggesting, {}, 'viewer');
    expect(viewer.body.details).toMatchObject({ requiredRight: 'procedures.run', yourRole: 'viewer', escalateTo: ['Support'] });
    const service = await r.post(suggesting, {}, 'alertmanager');
    expect(service.body.details).toEqual({ requiredRight: 'procedures.run', yourScopes: ['alerts.receive'] });
    // Well past a few passes of the timers: still nothing.
    await sleep(1000);
    expect(await state()).toEqual(before);

    // Bad input is no action (not audited); a 404 is a failure; a refusal of the caller is a denial.
    const path = `/api/v1/incidents/${suggesting}/runs`;
    const [admin, operator] = [r.name('admin'), r.name('operator')];
    expect(await r.audited(since)).toEqual([
      { actor: operator, outcome: 'failure', target: `incident:${suggesting}`, error_code: 'CONFLICT' },
      { actor: admin, outcome: 'failure', target: `incident:${UNKNOWN}`, error_code: 'NOT_FOUND' },
      { actor: admin, outcome: 'failure', target: `incident:${bare}`, error_code: 'NOT_FOUND' },
      { actor: operator, outcome: 'denied', target: `incident:${suggesting}`, error_code: 'FORBIDDEN' },
      { actor: r.name('viewer'), outcome: 'denied', target: path, error_code: 'FORBIDDEN' },
      { actor: expect.stringMatching(/^service:alertmanager-/), outcome: 'denied', target: path, error_code: 'FORBIDDEN' },
      { actor: operator, outcome: 'denied', target: `incident:${suggesting}`, error_code: 'FORBIDDEN' },
      { actor: r.name('viewer'), outcome: 'denied', target: path, error_code: 'FORBIDDEN' },
      { actor: expect.stringMatching(/^service:alertmanager-/), outcome: 'denied', target: path, error_code: 'FORBIDDEN' },
    ]);
  });
});

describe('the end of a run from an incident, with two replicas racing to record it', () => {
  let r: Awaited<ReturnType<typeof runsWorld>>;
  before(async () => {
    // No periodic pass: the run's end is recorded only by the passes this test starts, all at once.
    r = await runsWorld({ replica: true, checkMs: 600_000 });
  });
  after(() => r.w.close());

  it('twenty passes on both replicas at once after the run ended: one run_ended, one ended_at', async () => {
    const id = await r.open('test.incident-fix');
    const res = await r.post(id, { parameters: { waitMs: 300 } });
    expect([res.status, res.body.message]).toEqual([202, undefined]);
    const runId = res.body.run.id as string;
    await waitUntil('the run to succeed', async () => (await r.runOf(runId)).status === 'succeeded');
    const open = await withClient(r.w.t.database, (c) => c.query('SELECT ended_at FROM incident_runs WHERE run_id = $1', [runId]));
    expect(open.rows).toEqual([{ ended_at: null }]);

    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? r.w.t : r.b!).app.get(IncidentRuns).trackRuns()));
    const events = await r.runEvents(id);
    expect(events.map((e) => [e.type, e.data.runId, e.data.status])).toEqual([
      ['run_requested', runId, 'queued'],
      ['run_ended', runId, 'succeeded'],
    ]);
    const links = await withClient(r.w.t.database, (c) =>
      c.query('SELECT ended_status, ended_at FROM incident_runs WHERE run_id = $1', [runId]),
    );
    expect(links.rows).toEqual([{ ended_status: 'succeeded', ended_at: expect.any(Date) }]);
  });

  // A run's end is written in one transaction (ended_at and the run_ended event). A detail read
  // while that commits must not show one without the other: the CI run of 356145b read `runs`
  // before the commit and the timeline after it. Here the detail's timeline query is held until
  // the end has been recorded (by the product's own pass), the worst moment for the reader.
  it('a detail whose timeline is read after a run end committed shows the incident as of one moment: ended_at and run_ended both absent, then both present', async () => {
    const id = await r.open('test.incident-fix');
    const res = await r.post(id, { parameters: { waitMs: 0 } });
    expect([res.status, res.body.message]).toEqual([202, undefined]);
    const runId = res.body.run.id as string;
    await waitUntil('the run to succeed', async () => (await r.runOf(runId)).status === 'succeeded');

    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const timelineAsked = new Promise<void>((resolve) => (reached = resolve));
    const original = PostgresQueryRunner.prototype.query;
    PostgresQueryRunner.prototype.query = async function (this: PostgresQueryRunner, sql: string, ...rest: any[]) {
      if (sql.startsWith('SELECT * FROM incident_events WHERE incident_id')) {
        reached();
        await gate;
      }
      return (original as any).call(this, sql, ...rest);
    } as typeof original;
    try {
      const reading = r.detail(id);
      await timelineAsked;
      await r.w.t.app.get(IncidentRuns).trackRuns();
      const recorded = await withClient(r.w.t.database, (c) =>
        c.query('SELECT ended_status FROM incident_runs WHERE run_id = $1', [runId]),
      );
      expect(recorded.rows).toEqual([{ ended_status: 'succeeded' }]);
      release();
      const before = await reading;
      expect([before.runs.map((run) => run.ended_at), before.timeline.filter((e) => e.type === 'run_ended').length]).toEqual([[null], 0]);
    } finally {
      PostgresQueryRunner.prototype.query = original;
      release();
    }
    const after = await r.detail(id);
    expect([
      after.runs.map((run) => run.ended_status),
      after.timeline.filter((e) => e.type === 'run_ended').map((e) => e.data.runId),
    ]).toEqual([['succeeded'], [runId]]);
  });
});
