import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { withClient } from '../helpers/db';
import { openSse } from '../helpers/sse-client';
import { incidentWorld, IncidentWorld, waitUntil } from './helpers';

const UNKNOWN = 'INC-20991231-999';
const INCIDENT_FIELDS = 'id title severity component status assignee createdAt escalation { level step } suggestedProcedure';

describe('incidents API: filters, pages, bad input and rights (REST and GraphQL)', () => {
  let w: IncidentWorld;
  const tokens: Record<string, string> = {};
  const suffix = randomBytes(3).toString('hex');
  /** A component of this file's own, so that filters see only the incidents made here. */
  const component = `c${suffix}`;

  before(async () => {
    // Real minutes: no chain step falls due while this file runs, however slow the machine (the
    // row counts of the bad-input test and the timelines compared between REST and GraphQL
    // would otherwise move with an escalation; escalation.spec tests the timers).
    w = await incidentWorld({ env: { OPS_INCIDENT_TIME_SCALE: '1' } });
    for (const [who, role] of [
      ['admin', Role.Admin],
      ['viewer', Role.Viewer],
      ['operator', Role.Operator],
      ['dba', Role.Dba],
      ['senior', Role.SeniorDev],
    ] as const)
      tokens[who] = await w.t.tokenFor(role);
  });
  after(() => w.close());

  const http = () => w.t.http();
  const create = async (body: Record<string, unknown>, who = 'admin') => {
    const res = await http()
      .post('/api/v1/incidents')
      .set('authorization', `Bearer ${tokens[who]}`)
      .send({ title: 'Transfers fail on line 2', ...body });
    expect([res.status, res.body.message]).toEqual([201, undefined]);
    return res.body as { id: string; createdAt: string; status: string };
  };
  const post = (path: string, body: object, who = 'admin') =>
    http().post(`/api/v1/incidents/${path}`).set('authorization', `Bearer ${tokens[who]}`).send(body);
  const list = async (query: string, who = 'admin') => {
    const res = await http().get(`/api/v1/incidents?${query}`).set('authorization', `Bearer ${tokens[who]}`);
    expect([res.status, res.body.message]).toEqual([200, undefined]);
    return res.body as { items: { id: string }[]; nextCursor: string | null };
  };
  const ids = (page: { items: { id: string }[] }) => page.items.map((i) => i.id);
  const gqlIncidents = async (args: string) => {
    const res = await w.t.gql(tokens.viewer, `{ incidents(${args}) { items { id } nextCursor } }`);
    expect(res.body.errors).toBeUndefined();
    return res.body.data.incidents as { items: { id: string }[]; nextCursor: string | null };
  };
  /** Rows of the incident tables and the audit trail: refused input writes none (counted once every page went out). */
  const counts = async () => {
    await waitUntil('every page sent', () =>
      withClient(w.t.database, async (c) => (await c.query("SELECT 1 FROM incident_pages WHERE status = 'pending'")).rowCount === 0),
    );
    return withClient(w.t.database, async (c) => {
      const r = await c.query(
        `SELECT (SELECT count(*) FROM incidents)::int AS incidents, (SELECT count(*) FROM incident_events)::int AS events,
                (SELECT count(*) FROM incident_pages)::int AS pages, (SELECT count(*) FROM audit_entries)::int AS audit`,
      );
      return r.rows[0] as Record<string, number>;
    });
  };

  it('filters by status, severity, component, assignee and from/to, and pages with a cursor, in REST and GraphQL alike', async () => {
    const assignee = `a${suffix}`;
    const a = await create({ severity: 'P3', component, assignee });
    const b = await create({ severity: 'P2', component });
    const c = await create({ severity: 'P4', component });
    const d = await create({ severity: 'P3', component });
    const e = await create({ severity: 'P1', component });
    expect((await post(`${d.id}/acknowledge`, {})).status).toBe(200);
    expect((await post(`${e.id}/resolve`, { note: 'fixed by hand' })).status).toBe(200);
    const other = await create({ severity: 'P3', component: `${component}x`, assignee });

    const all = [e.id, d.id, c.id, b.id, a.id];
    expect(ids(await list(`component=${component}`))).toEqual(all);
    expect(ids(await list(`component=${component}&status=acknowledged`))).toEqual([d.id]);
    expect(ids(await list(`component=${component}&status=triggered,acknowledged`))).toEqual([d.id, c.id, b.id, a.id]);
    expect(ids(await list(`component=${component}&status=resolved&status=acknowledged`))).toEqual([e.id, d.id]);
    expect(ids(await list(`component=${component}&severity=P1,P2`))).toEqual([e.id, b.id]);
    expect(ids(await list(`assignee=${assignee}`))).toEqual([other.id, a.id]);
    expect(ids(await list(`assignee=${assignee}&component=${component}`))).toEqual([a.id]);
    const window = `from=${encodeURIComponent(c.createdAt)}&to=${encodeURIComponent(e.createdAt)}`;
    expect(ids(await list(`component=${component}&${window}`))).toEqual([d.id, c.id]);
    expect(ids(await list(`component=${component}&status=resolved&severity=P3`))).toEqual([]);

    // Pages of two: every incident once, in order, and the last page says there is no more.
    const pages: string[][] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = await list(`component=${component}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(ids(page));
      cursor = page.nextCursor;
    }
    expect(pages).toEqual([all.slice(0, 2), all.slice(2, 4), all.slice(4)]);

    // GraphQL answers the same questions with the same incidents.
    expect(ids(await gqlIncidents(`component: "${component}"`))).toEqual(all);
    expect(ids(await gqlIncidents(`component: "${component}", status: ["triggered", "acknowledged"]`))).toEqual([d.id, c.id, b.id, a.id]);
    expect(ids(await gqlIncidents(`component: "${component}", severity: ["P1", "P2"]`))).toEqual([e.id, b.id]);
    expect(ids(await gqlIncidents(`assignee: "${assignee}"`))).toEqual([other.id, a.id]);
    expect(ids(await gqlIncidents(`component: "${component}", from: "${c.createdAt}", to: "${e.createdAt}"`))).toEqual([d.id, c.id]);
    const first = await gqlIncidents(`component: "${component}", limit: 3`);
    const second = await gqlIncidents(`component: "${component}", limit: 3, cursor: "${first.nextCursor}"`);
    expect([ids(first), ids(second), second.nextCursor]).toEqual([all.slice(0, 3), all.slice(3), null]);
  });

  it('reads one incident, its timeline and who is on call in GraphQL as REST shows them', async () => {
    const made = await create({ severity: 'P3', component, assignee: w.users.sari });
    expect((await post(`${made.id}/notes`, { text: 'looking at the queue' }, 'operator')).status).toBe(200);
    // Its first pages are sent (each adds a timeline event) before REST and GraphQL read it.
    await waitUntil('every page sent', () =>
      withClient(w.t.database, async (c) => (await c.query("SELECT 1 FROM incident_pages WHERE status = 'pending'")).rowCount === 0),
    );
    const rest = (await http().get(`/api/v1/incidents/${made.id}`).set('authorization', `Bearer ${tokens.viewer}`)).body;
    const res = await w.t.gql(
      tokens.viewer,
      `query ($id: String!) {
        incident(id: $id) { ${INCIDENT_FIELDS} groupKeys alerts runs notifications report timeline { id incidentId at type actor message data } }
        oncall { timezone levels problems }
      }`,
      { id: made.id },
    );
    expect(res.body.errors).toBeUndefined();
    const { incident, oncall } = res.body.data;
    expect(incident).toMatchObject({
      id: made.id,
      severity: 'P3',
      component,
      status: 'triggered',
      assignee: w.users.sari,
      createdAt: rest.createdAt,
      escalation: { level: rest.escalation.level, step: rest.escalation.step },
      groupKeys: [],
      alerts: [],
      report: null,
    });
    expect(incident.notifications.length).toBe(rest.notifications.length);
    expect(incident.timeline.map((e: any) => [e.id, e.incidentId, e.type, e.actor, e.message])).toEqual(
      rest.timeline.map((e: any) => [String(e.id), made.id, e.type, e.actor, e.message]),
    );
    expect(incident.timeline.map((e: any) => e.type)).toEqual(expect.arrayContaining(['opened', 'note']));
    const restOncall = (await http().get('/api/v1/oncall').set('authorization', `Bearer ${tokens.viewer}`)).body;
    expect(oncall.levels).toEqual(JSON.parse(JSON.stringify(restOncall.levels)));
    expect(oncall.problems).toEqual(restOncall.problems);
  });

  it('changes incidents through GraphQL mutations with the same rules and audit as REST', async () => {
    const created = await w.t.gql(
      tokens.operator,
      `mutation { createIncident(input: { title: "Stock sync stalls", severity: "P3", component: "${component}" }) { id status severity createdBy } }`,
    );
    expect(created.body.errors).toBeUndefined();
    const id = created.body.data.createIncident.id;
    const m = async (query: string, who = 'operator') => {
      const res = await w.t.gql(tokens[who], `mutation { ${query} }`);
      expect(res.body.errors).toBeUndefined();
      return Object.values(res.body.data)[0] as Record<string, unknown>;
    };
    expect(await m(`addIncidentNote(id: "${id}", text: "queue is at 4k") { id status }`)).toEqual({ id, status: 'triggered' });
    expect(await m(`postIncidentStatusUpdate(id: "${id}", text: "draining") { nextStatusUpdateAt }`)).toEqual({
      nextStatusUpdateAt: null,
    });
    expect(await m(`assignIncident(id: "${id}", assignee: "${w.users.sari}") { assignee }`)).toEqual({ assignee: w.users.sari });
    expect(await m(`escalateIncident(id: "${id}") { escalation { escalations } }`)).toEqual({ escalation: { escalations: 1 } });
    expect(await m(`acknowledgeIncident(id: "${id}") { status acknowledgedBy }`)).toMatchObject({ status: 'acknowledged' });
    // Acknowledged twice: the service's conflict, mapped as REST maps it.
    const again = await w.t.gql(tokens.operator, `mutation { acknowledgeIncident(id: "${id}") { id } }`);
    expect(again.body.errors[0]).toMatchObject({
      message: `incident ${id} is acknowledged: only a triggered incident can be acknowledged`,
    });
    expect(again.body.errors[0].extensions.errorCode).toBe('CONFLICT');
    expect(await m(`resolveIncident(id: "${id}", note: "restarted the worker") { status }`)).toEqual({ status: 'resolved' });
    expect(await m(`reopenIncident(id: "${id}", note: "it stalled again") { status }`)).toEqual({ status: 'triggered' });
    const timeline = (await http().get(`/api/v1/incidents/${id}`).set('authorization', `Bearer ${tokens.viewer}`)).body.timeline;
    expect(timeline.map((e: any) => e.type)).toEqual(
      expect.arrayContaining(['opened', 'note', 'status_update', 'assigned', 'escalated', 'acknowledged', 'resolved', 'reopened']),
    );
    expect(timeline.find((e: any) => e.type === 'note').message).toBe('queue is at 4k');
    const audit = await withClient(w.t.database, (c) =>
      c.query("SELECT action, outcome FROM audit_entries WHERE target = $1 AND action LIKE 'incidents.%' ORDER BY id", [`incident:${id}`]),
    );
    expect(audit.rows.map((r) => `${r.action} ${r.outcome}`)).toEqual(
      expect.arrayContaining([
        'incidents.note success',
        'incidents.assign success',
        'incidents.resolve success',
        'incidents.reopen success',
      ]),
    );
  });

  it('refuses bad input on every new route and argument with 400 naming the field (404 for an unknown id), writing nothing', async () => {
    const made = await create({ severity: 'P3', component });
    const before = await counts();
    const rest: [string, string, object | undefined, Record<string, string>, number, RegExp][] = [
      ['get', '/api/v1/incidents/INC-1/events', undefined, {}, 400, /^id: must be an incident id/],
      ['get', "/api/v1/incidents/INC-20261207-001'--/events", undefined, {}, 400, /^id: must be an incident id/],
      ['get', `/api/v1/incidents/${UNKNOWN}/events`, undefined, {}, 404, new RegExp(`^incident ${UNKNOWN} does not exist$`)],
      ['get', `/api/v1/incidents/${made.id}/events`, undefined, { 'last-event-id': 'x1' }, 400, /^Last-Event-ID: must be the id/],
      ['get', `/api/v1/incidents/${made.id}/events`, undefined, { 'last-event-id': '9'.repeat(19) }, 400, /^Last-Event-ID: /],
      ['get', `/api/v1/incidents/${made.id}/events?lastEventId=-1`, undefined, {}, 400, /^lastEventId: must be the id/],
      ['get', `/api/v1/incidents/${made.id}/events?since=1`, undefined, {}, 400, /^since: is not a known field/],
      ['get', '/api/v1/incidents?status=bogus', undefined, {}, 400, /^status: each must be triggered, acknowledged or resolved/],
      ['get', '/api/v1/incidents?severity=P5', undefined, {}, 400, /^severity: each must be P1, P2, P3 or P4/],
      ['get', '/api/v1/incidents?cursor=not-a-cursor', undefined, {}, 400, /^cursor: must be the nextCursor/],
      ['get', '/api/v1/incidents?from=yesterday', undefined, {}, 400, /^from: must be an ISO 8601 time/],
      ['get', '/api/v1/incidents?limit=0', undefined, {}, 400, /^limit: /],
      ['post', `/api/v1/incidents/${made.id}/notes`, { text: '' }, {}, 400, /^text: must not be empty/],
      ['post', `/api/v1/incidents/${made.id}/notes`, { text: 'x'.repeat(20_000) }, {}, 400, /^text: must be at most 10000 characters/],
      ['post', `/api/v1/incidents/${UNKNOWN}/notes`, { text: 'hello' }, {}, 404, /does not exist/],
      ['post', '/api/v1/incidents', { title: 'x', severity: 'P5' }, {}, 400, /^severity: must be P1, P2, P3 or P4/],
    ];
    for (const [method, path, body, headers, status, message] of rest) {
      let req = http()[method as 'get'](path).set('authorization', `Bearer ${tokens.admin}`).set(headers);
      if (body) req = req.send(body);
      const res = await req;
      expect([path, res.status, res.body.message]).toEqual([path, status, expect.stringMatching(message)]);
    }
    const gql: [string, RegExp, string][] = [
      ['{ incidents(status: ["bogus"]) { nextCursor } }', /^status: each must be triggered/, 'BAD_USER_INPUT'],
      ['{ incidents(severity: ["P1", "P5"]) { nextCursor } }', /^severity: each must be P1, P2, P3 or P4/, 'BAD_USER_INPUT'],
      ['{ incidents(cursor: "bm9wZQ") { nextCursor } }', /^cursor: must be the nextCursor/, 'BAD_USER_INPUT'],
      ['{ incidents(cursor: "%%") { nextCursor } }', /^cursor: must be the nextCursor/, 'BAD_USER_INPUT'],
      ['{ incidents(from: "2026-02-31") { nextCursor } }', /^from: must be an ISO 8601 time/, 'BAD_USER_INPUT'],
      ['{ incidents(to: "soon") { nextCursor } }', /^to: must be an ISO 8601 time/, 'BAD_USER_INPUT'],
      ['{ incidents(limit: 500) { nextCursor } }', /^limit: must be at most 200/, 'BAD_USER_INPUT'],
      [`{ incidents(component: "${'x'.repeat(200)}") { nextCursor } }`, /^component: must be at most 128/, 'BAD_USER_INPUT'],
      ['{ incident(id: "INC-1") { id } }', /^id: must be an incident id/, 'BAD_USER_INPUT'],
      [`{ incident(id: "${UNKNOWN}") { id } }`, new RegExp(`^incident ${UNKNOWN} does not exist$`), 'NOT_FOUND'],
      [`mutation { addIncidentNote(id: "${made.id}", text: "") { id } }`, /^text: must not be empty/, 'BAD_USER_INPUT'],
      [
        `mutation { addIncidentNote(id: "${made.id}", text: "${'x'.repeat(20_000)}") { id } }`,
        /^text: must be at most 10000 characters/,
        'BAD_USER_INPUT',
      ],
      [`mutation { addIncidentNote(id: "${UNKNOWN}", text: "hi") { id } }`, /does not exist/, 'NOT_FOUND'],
      [`mutation { postIncidentStatusUpdate(id: "${made.id}", text: "") { id } }`, /^text: must not be empty/, 'BAD_USER_INPUT'],
      ['mutation { acknowledgeIncident(id: "nope") { id } }', /^id: must be an incident id/, 'BAD_USER_INPUT'],
      [`mutation { resolveIncident(id: "${made.id}", note: "${'x'.repeat(10_001)}") { id } }`, /^note: must be at most/, 'BAD_USER_INPUT'],
      ['mutation { reopenIncident(id: "INC-2026-1") { id } }', /^id: must be an incident id/, 'BAD_USER_INPUT'],
      [`mutation { escalateIncident(id: "${UNKNOWN}") { id } }`, /does not exist/, 'NOT_FOUND'],
      [`mutation { assignIncident(id: "${made.id}", assignee: "") { id } }`, /^assignee: must not be empty/, 'BAD_USER_INPUT'],
      [`mutation { submitIncidentReport(id: "${made.id}", text: "") { id } }`, /^text: must not be empty/, 'BAD_USER_INPUT'],
      [
        'mutation { createIncident(input: { title: "x", severity: "P5" }) { id } }',
        /^severity: must be P1, P2, P3 or P4/,
        'BAD_USER_INPUT',
      ],
      ['mutation { createIncident(input: { title: "", severity: "P3" }) { id } }', /^title: must not be empty/, 'BAD_USER_INPUT'],
      [
        'mutation { createIncident(input: { title: "x", severity: "P3", component: "API!" }) { id } }',
        /^component: must be a component name/,
        'BAD_USER_INPUT',
      ],
      [
        'mutation { createIncident(input: { title: "x", severity: "P3", procedureId: "../x" }) { id } }',
        /^procedureId: must be a procedure id/,
        'BAD_USER_INPUT',
      ],
    ];
    for (const [query, message, code] of gql) {
      const res = await w.t.gql(tokens.admin, query);
      expect([query.slice(0, 80), res.body.errors?.[0]?.extensions?.code, res.body.errors?.[0]?.message]).toEqual([
        query.slice(0, 80),
        code,
        expect.stringMatching(message),
      ]);
    }
    const { audit: auditAfter, ...written } = await counts();
    const { audit: auditBefore, ...existing } = before;
    expect(written).toEqual(existing);
    // Invalid input is no action; only the 404s of the changes are audited (as failures).
    const audited = await withClient(w.t.database, (c) =>
      c.query('SELECT action, outcome FROM audit_entries ORDER BY id DESC LIMIT $1', [auditAfter - auditBefore]),
    );
    expect(audited.rows.map((r) => `${r.action} ${r.outcome}`).sort()).toEqual([
      'incidents.escalate failure',
      'incidents.note failure',
      'incidents.note failure',
    ]);
  });

  it('lets a viewer read (list, one, stream, GraphQL) but not act: 403 naming whom to call', async () => {
    const made = await create({ severity: 'P3', component });
    const before = await counts();
    expect((await http().get(`/api/v1/incidents/${made.id}`).set('authorization', `Bearer ${tokens.viewer}`)).status).toBe(200);
    const stream = await openSse(`${w.t.url}/api/v1/incidents/${made.id}/events`, tokens.viewer);
    expect(stream.status).toBe(200);
    expect((await stream.waitFor((e) => e.event === 'opened'))?.data).toMatchObject({ incidentId: made.id, type: 'opened' });
    stream.close();
    for (const [path, body] of [
      ['notes', { text: 'I am only watching' }],
      ['acknowledge', {}],
      ['resolve', {}],
      ['status-updates', { text: 'x' }],
      ['escalate', {}],
      ['assign', { assignee: 'me' }],
    ] as const) {
      const res = await post(`${made.id}/${path}`, body, 'viewer');
      expect([path, res.status]).toEqual([path, 403]);
      expect(res.body.message).toContain('incidents.respond');
      expect(res.body.details).toMatchObject({ requiredRight: 'incidents.respond', yourRole: 'viewer', escalateTo: ['Support'] });
    }
    const gql = await w.t.gql(tokens.viewer, `mutation { addIncidentNote(id: "${made.id}", text: "I am only watching") { id } }`);
    expect(gql.body.errors[0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      details: { requiredRight: 'incidents.respond', yourRole: 'viewer', escalateTo: ['Support'] },
    });
    const createdByViewer = await w.t.gql(tokens.viewer, 'mutation { createIncident(input: { title: "x", severity: "P4" }) { id } }');
    expect(createdByViewer.body.errors[0].extensions.code).toBe('FORBIDDEN');
    const { audit: _a, ...after } = await counts();
    const { audit: _b, ...existing } = before;
    expect(after).toEqual(existing);
  });

  it('refuses a role one level too low for a P1 (REST and GraphQL), naming the on-call people to call', async () => {
    const system = await create({ severity: 'P1', component: 'api' });
    const database = await create({ severity: 'P1', component: 'database' });
    const call = ['Budi (senior dev) (+62 811 0002)', 'Dewi (DBA)'];
    // dba: P2 on the system domain; senior_dev: P2 on the database domain.
    const refusals: [string, string, string][] = [
      ['dba', system.id, 'system'],
      ['senior', database.id, 'database'],
    ];
    for (const [who, id, domain] of refusals) {
      const res = await post(`${id}/resolve`, { note: 'done' }, who);
      expect([who, res.status]).toEqual([who, 403]);
      const role = who === 'dba' ? 'dba' : 'senior_dev';
      expect(res.body.message).toMatch(
        new RegExp(`^${role} may not resolve a P1 ${domain} incident; call ${call.join(', ').replace(/[()+]/g, '\\$&')}`),
      );
      expect(res.body.details).toMatchObject({ level: 'P1', domain, yourRole: role, escalateTo: expect.arrayContaining(call) });
      const gql = await w.t.gql(tokens[who], `mutation { resolveIncident(id: "${id}") { id } }`);
      expect(gql.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', details: { level: 'P1', domain, yourRole: role } });
      expect(gql.body.errors[0].message).toBe(res.body.message);
    }
    for (const { id } of [system, database]) {
      const incident = (await http().get(`/api/v1/incidents/${id}`).set('authorization', `Bearer ${tokens.viewer}`)).body;
      expect([incident.status, incident.timeline.some((e: any) => e.type === 'resolved')]).toEqual(['triggered', false]);
    }
    // One level up may.
    expect((await post(`${system.id}/resolve`, { note: 'done' }, 'senior')).status).toBe(200);
    expect((await post(`${database.id}/resolve`, { note: 'done' }, 'dba')).status).toBe(200);
  });

  it("opens an incident for a row of the escalation table: the row's response time paces its first step, its contacts are named; another level's row is refused", async () => {
    const read = async (id: string) => (await http().get(`/api/v1/incidents/${id}`).set('authorization', `Bearer ${tokens.viewer}`)).body;
    const single = await read((await create({ severity: 'P3', component, situation: 'single-user' })).id);
    const plain = await read((await create({ severity: 'P3', component })).id);
    expect([single.situation, plain.situation]).toEqual(['Single user issue', null]);
    // The runbook's P3 "Single user issue: 1 hour", not the P3 level's 30 min; the later steps keep their levels' times.
    expect([single.policy.steps[0], plain.policy.steps[0]]).toEqual([
      { level: 'P3', waitSeconds: 3600 },
      { level: 'P3', waitSeconds: 1800 },
    ]);
    expect(single.policy.steps.slice(1)).toEqual(plain.policy.steps.slice(1));
    expect(single.policy.steps.length).toBeGreaterThan(1);
    expect(Date.parse(single.escalation.nextAt) - Date.parse(single.createdAt)).toBe(3_600_000);
    expect(Date.parse(plain.escalation.nextAt) - Date.parse(plain.createdAt)).toBe(1_800_000);

    // P1 "Data at risk" is Senior Dev + DBA: a refusal names them, not "System down"'s On-Call Senior Dev.
    const data = await create({ severity: 'P1', component: 'database', situation: 'data-at-risk' });
    const refused = await post(`${data.id}/resolve`, { note: 'done' }, 'senior');
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(
      /^senior_dev may not resolve a P1 database incident \(Data at risk\); call .*, Senior Dev, DBA \(response within 5 min\)$/,
    );
    expect(refused.body.details).toMatchObject({ situation: 'Data at risk', responseMinutes: 5 });
    expect(refused.body.details.escalateTo.slice(-2)).toEqual(['Senior Dev', 'DBA']);
    expect(refused.body.details.escalateTo).not.toContain('On-Call Senior Dev');
    // Without a situation the level's contacts, every row's.
    const level = await create({ severity: 'P1', component: 'database' });
    expect((await post(`${level.id}/resolve`, { note: 'done' }, 'senior')).body.details.escalateTo.slice(-3)).toEqual([
      'On-Call Senior Dev',
      'Senior Dev',
      'DBA',
    ]);
    for (const { id } of [data, level]) expect((await post(`${id}/resolve`, { note: 'done' }, 'dba')).status).toBe(200);

    // GraphQL alike.
    const gql = await w.t.gql(
      tokens.admin,
      'mutation { createIncident(input: { title: "x", severity: "P3", situation: "single-user" }) { situation } }',
    );
    expect(gql.body).toEqual({ data: { createIncident: { situation: 'Single user issue' } } });

    // null is no situation (REST JSON null, GraphQL null): the level's time.
    const none = await read((await create({ severity: 'P3', component, situation: null })).id);
    expect([none.situation, none.policy.steps[0]]).toEqual([null, { level: 'P3', waitSeconds: 1800 }]);
    const gqlNone = await w.t.gql(
      tokens.admin,
      'mutation { createIncident(input: { title: "x", severity: "P3", situation: null }) { situation } }',
    );
    expect(gqlNone.body).toEqual({ data: { createIncident: { situation: null } } });

    // A row of another level, an unknown id, a malformed id, a P4 with a row: 400 naming the field, nothing written.
    const before = await counts();
    const bad: [Record<string, unknown>, RegExp][] = [
      [
        { severity: 'P3', situation: 'system-down' },
        /^situation: must be one of performance, single-user \(the P3 rows of the escalation table\)$/,
      ],
      [{ severity: 'P1', situation: 'nothing-like-it' }, /^situation: must be one of system-down, data-at-risk/],
      [{ severity: 'P2', situation: 'API slow' }, /situation/],
      [{ severity: 'P2', situation: 'x'.repeat(41) }, /situation/],
      [{ severity: 'P4', situation: 'single-user' }, /^situation: a P4 incident has no row/],
    ];
    for (const [body, message] of bad) {
      const res = await http()
        .post('/api/v1/incidents')
        .set('authorization', `Bearer ${tokens.admin}`)
        .send({ title: 'x', ...body });
      expect([res.status, res.body.message]).toEqual([400, expect.stringMatching(message)]);
      const g = await w.t.gql(
        tokens.admin,
        `mutation { createIncident(input: { title: "x", severity: "${body.severity}", situation: ${JSON.stringify(body.situation)} }) { id } }`,
      );
      expect(g.body.errors[0].message).toMatch(/situation/);
      expect(g.body.errors[0].extensions.code).not.toBe('INTERNAL_SERVER_ERROR');
    }
    expect(await counts()).toEqual(before);
  });

  it('refuses a service identity (alerts.receive) every incident read: REST, the stream and GraphQL', async () => {
    const made = await create({ severity: 'P3', component });
    for (const path of ['/api/v1/incidents', `/api/v1/incidents/${made.id}`, `/api/v1/incidents/${made.id}/events`, '/api/v1/oncall']) {
      const res = await http().get(path).set('authorization', `Bearer ${w.alertmanager}`);
      expect([path, res.status, res.body.details?.requiredRight]).toEqual([path, 403, 'incidents.read']);
    }
    for (const query of ['{ incidents { nextCursor } }', `{ incident(id: "${made.id}") { id } }`, '{ oncall { timezone } }']) {
      const res = await w.t.gql(w.alertmanager, query);
      expect([query, res.body.data?.[Object.keys(res.body.data ?? {})[0]] ?? null, res.body.errors?.[0]?.extensions?.code]).toEqual([
        query,
        null,
        'FORBIDDEN',
      ]);
    }
  });
});
