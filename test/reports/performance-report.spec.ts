/**
 * The performance report through the HTTP API, as the ERP admin panel calls it (POST
 * /admin/reports/performance with an operator's API token), against the stand-in's real
 * Prometheus holding the generated week of history. Its numbers are compared with what the
 * generator wrote (history.json, and the generator's own counters for the same times): daily
 * totals, the error burst's day, hour and endpoints, the latency spike's day and hour, a
 * period before the history as a gap. Then validation (nothing stored), list and get, rights,
 * the audit entry, GraphQL, /metrics, and a gap made by stopping Prometheus for ~40 s.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { projectRoot } from '../../src/common/paths';
import { Role } from '../../src/guards/rights';
import { addDays, localTime, startOfLocalDay } from '../../src/modules/reports/report-period';
import { withClient } from '../helpers/db';
import { startTestApp, TestApp } from '../helpers/test-app';
import { waitFor } from '../stack/stack-helpers';

const TZ = 'Asia/Jakarta';
const PROM = 'http://127.0.0.1:19090';
const PATH = '/admin/reports/performance';

interface HistoryInfo {
  start: number;
  end: number;
  stepSeconds: number;
  errorBurst: { start: number; end: number };
  latencySpike: { start: number; end: number };
}

function loadHistory(): HistoryInfo {
  const shared = '/var/lib/erp-stack/history.json';
  const file = existsSync(shared) ? shared : join(projectRoot(), 'stack/run/history.json');
  return JSON.parse(readFileSync(file, 'utf8')) as HistoryInfo;
}

// The generator itself (CommonJS, it runs only when executed): its counters at given times.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const generator = require(join(projectRoot(), 'scripts/stack/history.js')) as {
  dailyTotals(info: HistoryInfo): { date: string; requests: number; errors5xx: number; complete: boolean }[];
  countersAt(info: HistoryInfo, times: number[]): { method: string; endpoint: string; at: ({ requests: number; errors: number } | null)[] }[];
};

const within = (actual: number, expected: number, fraction = 0.01) => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.max(1, expected * fraction));
};

describe('performance report on the stand-in stack', () => {
  const info = loadHistory();
  const dateOf = (unixSeconds: number) => localTime(unixSeconds * 1000, TZ).date;
  // Whole local days inside the loaded history.
  let firstFull = dateOf(info.start);
  if (startOfLocalDay(firstFull, TZ) < info.start * 1000) firstFull = addDays(firstFull, 1);
  let lastFull = dateOf(info.end);
  if (startOfLocalDay(addDays(lastFull, 1), TZ) > (info.end + info.stepSeconds) * 1000) lastFull = addDays(lastFull, -1);
  const burstDate = dateOf(info.errorBurst.start);
  const spikeDate = dateOf(info.latencySpike.start);
  const burstHour = localTime(info.errorBurst.start * 1000, TZ).hour;
  const spikeHour = localTime(info.latencySpike.start * 1000, TZ).hour;

  let t: TestApp;
  let admin: string;
  let viewer: string;
  let panelToken: string;
  let week: any;
  let weekId: string;
  const rows = () => withClient(t.database, async (c) => Number((await c.query('SELECT count(*) AS n FROM performance_reports')).rows[0].n));

  before(async () => {
    t = await startTestApp({ inventoryFile: 'stack/ops.stack.yaml' });
    admin = await t.tokenFor(Role.Admin);
    viewer = await t.tokenFor(Role.Viewer);
    const made = await t.http().post('/api/v1/tokens').set('Authorization', `Bearer ${admin}`).send({ name: `admin-panel-${Date.now()}`, role: 'operator' });
    expect(made.status).toBe(201);
    panelToken = made.body.token;
  });
  after(() => t?.close());

  it('the admin panel\'s call: 201, Location, the report of whole days matching what the generator wrote', async () => {
    expect(firstFull <= burstDate && burstDate <= lastFull && firstFull <= spikeDate && spikeDate <= lastFull).toBe(true);
    const started = Date.now();
    const res = await t
      .http()
      .post(PATH)
      .set('Authorization', `Bearer ${panelToken}`)
      .set('Content-Type', 'application/json')
      .send({ start_date: firstFull, end_date: lastFull, include: ['response_times', 'error_rates', 'usage_patterns'] });
    expect(res.status).toBe(201);
    const wallMs = Date.now() - started;
    week = res.body;
    weekId = week.id;
    expect(res.headers.location).toBe(`${PATH}/${weekId}`);
    expect(week.period).toMatchObject({ startDate: firstFull, endDate: lastFull, timeZone: TZ, complete: true });
    expect(week.generatedBy).toMatch(/^token:admin-panel-/);
    expect(Object.keys(week.sections)).toEqual(['response_times', 'error_rates', 'usage_patterns']);
    // What each section was computed from: PromQL and step, each query once.
    const texts = week.source.queries.map((q: { promql: string }) => q.promql);
    expect(new Set(texts).size).toBe(texts.length);
    expect(week.sections.error_rates.computedFrom).toEqual(expect.arrayContaining([{ promql: expect.stringContaining('increase(http_requests_total[1h])'), stepSeconds: 3600 }]));
    expect(week.sections.response_times.computedFrom[0].promql).toContain('http_request_duration_seconds_bucket');
    expect(week.dataCoverage.ratio).toBe(1);
    expect(week.dataCoverage.gaps).toEqual([]);
    console.log(`  week report in ${wallMs} ms (server ${week.durationMs} ms), queries: ${week.source.queries.map((q: any) => `${q.durationMs}ms×${q.chunks}`).join(', ')}`);

    // Daily totals: within 1 % of the generator's counters.
    const expected = new Map(generator.dailyTotals(info).map((d) => [d.date, d]));
    const usage = week.sections.usage_patterns;
    let expectedTotal = 0;
    for (const day of usage.days) {
      const e = expected.get(day.date)!;
      expect(e.complete).toBe(true);
      expect(day.coverage).toBe(1);
      within(day.requests, e.requests);
      expectedTotal += e.requests;
    }
    within(usage.totalRequests, expectedTotal);
    expect(usage.weekdayHour).toHaveLength(7);
    expect(usage.weekdayHour.flatMap((w: { hours: number[] }) => w.hours).reduce((a: number, b: number) => a + b, 0)).toBeGreaterThan(expectedTotal * 0.99);
    expect(usage.peakHour.requests).toBeGreaterThan(0);
    expect(usage.methods.map((m: { method: string }) => m.method)).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT']));

    // The error burst: its day (errors within 1 %), its hour, and every endpoint's worst day.
    const errors = week.sections.error_rates;
    const burstDay = errors.days.find((d: { date: string }) => d.date === burstDate);
    within(burstDay.errors5xx, expected.get(burstDate)!.errors5xx);
    expect(Math.max(...errors.days.map((d: { ratePercent: number }) => d.ratePercent))).toBe(burstDay.ratePercent);
    expect(burstDay.worstHour.local).toBe(`${burstDate} ${String(burstHour).padStart(2, '0')}:00`);
    expect(burstDay.worstHour.ratePercent).toBeGreaterThan(5);
    for (const day of errors.days) if (day.date !== burstDate) expect(day.ratePercent).toBeLessThan(0.5);
    expect(errors.endpoints).toHaveLength(10);
    for (const e of errors.endpoints) expect(e.worstDay.date).toBe(burstDate);
    expect(errors.target).toMatchObject({ maxPercent: 1 });
    expect(errors.errorTypes[0]).toMatchObject({ errorType: 'server_error' });
    within(errors.errorTypes[0].days.find((d: { date: string }) => d.date === burstDate).count, expected.get(burstDate)!.errors5xx);

    // The latency spike: its day and hour above the 1 s target, the other days below.
    const rt = week.sections.response_times;
    const spikeDay = rt.days.find((d: { date: string }) => d.date === spikeDate);
    expect(spikeDay.worstHour.local).toBe(`${spikeDate} ${String(spikeHour).padStart(2, '0')}:00`);
    expect(spikeDay.worstHour.p95Seconds).toBeGreaterThan(1);
    expect(rt.hoursAboveTarget.length).toBeGreaterThan(0);
    for (const h of rt.hoursAboveTarget) expect(h.local.startsWith(spikeDate)).toBe(true);
    for (const day of rt.days) {
      if (day.date !== spikeDate) expect(day.worstHour.p95Seconds).toBeLessThan(1);
      expect(day.p50Seconds).toBeLessThan(day.p95Seconds);
      expect(day.p95Seconds).toBeLessThanOrEqual(day.p99Seconds);
    }
    expect(spikeDay.p99Seconds).toBeGreaterThan(Math.max(...rt.days.filter((d: { date: string }) => d.date !== spikeDate).map((d: { p99Seconds: number }) => d.p99Seconds)));
    expect(rt.slowestEndpoints).toHaveLength(10);
    expect(rt.slowestEndpoints[0].endpoint).toBe('/api/v1/reports/weekly-performance');
    for (const e of rt.slowestEndpoints) expect(e.worstDay.date).toBe(spikeDate);
    // Requests per endpoint: the slowest endpoint's count against the generator's counters.
    const from = startOfLocalDay(firstFull, TZ) / 1000;
    const to = startOfLocalDay(addDays(lastFull, 1), TZ) / 1000;
    const counters = generator.countersAt(info, [from, to]).find((c) => c.endpoint === rt.slowestEndpoints[0].endpoint)!;
    within(rt.slowestEndpoints[0].requests, counters.at[1]!.requests - counters.at[0]!.requests);
    expect(week.summary).toMatchObject({ p95TargetMet: true, errorRateTargetMet: true, gaps: 0 });
  });

  it('a period before the history starts is a gap: no numbers for it, not zeros averaged in', async () => {
    const before = addDays(dateOf(info.start), -1);
    const res = await t.http().post(PATH).set('Authorization', `Bearer ${panelToken}`).send({ start_date: before, end_date: firstFull });
    expect(res.status).toBe(201);
    const r = res.body;
    const [empty, partial, full] = r.dataCoverage.days;
    expect(empty).toMatchObject({ date: before, coverage: 0, presentSamples: 0 });
    expect(partial.coverage).toBeGreaterThan(0);
    expect(partial.coverage).toBeLessThan(1);
    expect(full.coverage).toBe(1);
    const gap = r.dataCoverage.gaps[0];
    expect(gap.from).toBe(new Date(startOfLocalDay(before, TZ)).toISOString());
    expect(Math.abs(Date.parse(gap.to) - info.start * 1000)).toBeLessThanOrEqual(2 * 60_000);
    for (const name of ['response_times', 'error_rates', 'usage_patterns']) {
      const day = r.sections[name].days[0];
      expect(day.date).toBe(before);
      expect(day.requests).toBeNull();
      expect(day.gaps.length).toBeGreaterThan(0);
    }
    expect(r.sections.response_times.days[0].p95Seconds).toBeNull();
    expect(r.sections.error_rates.days[0].ratePercent).toBeNull();
    // The partial day counts what is there: the generator's counters from the first sample on.
    const partialExpected = generator.dailyTotals(info).find((d) => d.date === partial.date)!;
    within(r.sections.usage_patterns.days[1].requests, partialExpected.requests);
    expect(r.summary.notes.join(' ')).toContain(`No metrics at all for ${before}`);
  });

  it('every validation error is a 400 naming the field and the allowed values, and stores nothing', async () => {
    const count = await rows();
    const today = localTime(Date.now(), TZ).date;
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ end_date: lastFull }, 'start_date', /is required/],
      [{ start_date: '2026-02-30', end_date: lastFull }, 'start_date', /real calendar date YYYY-MM-DD/],
      [{ start_date: '13/01/2026', end_date: lastFull }, 'start_date', /real calendar date/],
      [{ start_date: firstFull, end_date: 20260119 }, 'end_date', /real calendar date/],
      [{ start_date: lastFull, end_date: firstFull }, 'end_date', /must not be before start_date/],
      [{ start_date: addDays(lastFull, -100), end_date: lastFull }, 'end_date', /at most 92 days/],
      [{ start_date: addDays(today, 1), end_date: addDays(today, 3) }, 'start_date', /is in the future: today is .* in Asia\/Jakarta/],
      [{ start_date: firstFull, end_date: lastFull, include: ['response_times', 'latency'] }, 'include', /"latency" is not a known section: each must be one of response_times, error_rates, usage_patterns, availability, backups/],
      [{ start_date: firstFull, end_date: lastFull, include: [] }, 'include', /at least one section/],
      [{ start_date: firstFull, end_date: lastFull, include: 'response_times' }, 'include', /must be a list/],
      [{ start_date: firstFull, end_date: lastFull, format: 'pdf' }, 'format', /is not a known field/],
    ];
    for (const [body, field, problem] of cases) {
      const res = await t.http().post(PATH).set('Authorization', `Bearer ${panelToken}`).send(body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body.error).toBe('VALIDATION_FAILED');
      expect(res.body.message).toMatch(new RegExp(`^${field}: `));
      expect(res.body.message).toMatch(problem);
    }
    const notJson = await t.http().post(PATH).set('Authorization', `Bearer ${panelToken}`).set('Content-Type', 'text/plain').send('start_date=2026-01-13');
    expect([400, 415]).toContain(notJson.status);
    expect(await rows()).toBe(count);
  });

  it('lists newest first with cursors, gets one, 404 for an unknown id, 400 for a malformed one', async () => {
    const list = await t.http().get(`${PATH}?limit=1`).set('Authorization', `Bearer ${viewer}`);
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0].generatedAt >= week.generatedAt).toBe(true);
    expect(list.body.items[0]).toMatchObject({ timeZone: TZ, summary: expect.objectContaining({ notes: expect.any(Array) }) });
    expect(list.body.items[0].report).toBeUndefined();
    const next = await t.http().get(`${PATH}?limit=50&cursor=${list.body.nextCursor}`).set('Authorization', `Bearer ${viewer}`);
    expect(next.status).toBe(200);
    const all = [list.body.items[0].id, ...next.body.items.map((i: { id: string }) => i.id)];
    expect(all).toContain(weekId);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(await rows());
    const one = await t.http().get(`${PATH}/${weekId}`).set('Authorization', `Bearer ${viewer}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(week);
    expect((await t.http().get(`${PATH}/00000000-0000-4000-8000-000000000000`).set('Authorization', `Bearer ${viewer}`)).status).toBe(404);
    const bad = await t.http().get(`${PATH}/not-a-uuid`).set('Authorization', `Bearer ${viewer}`);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^id: must be a UUID/);
    expect((await t.http().get(`${PATH}?cursor=zzz`).set('Authorization', `Bearer ${viewer}`)).status).toBe(400);
  });

  it('rights: a viewer reads but cannot generate; no token is 401; the generation is audited', async () => {
    const count = await rows();
    const denied = await t.http().post(PATH).set('Authorization', `Bearer ${viewer}`).send({ start_date: firstFull, end_date: firstFull });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toContain('reports.create');
    expect((await t.http().post(PATH).send({ start_date: firstFull, end_date: firstFull })).status).toBe(401);
    expect((await t.http().get(PATH)).status).toBe(401);
    expect(await rows()).toBe(count);
    const audit = await t.http().get('/api/v1/audit?action=report.performance.create&limit=200').set('Authorization', `Bearer ${admin}`);
    expect(audit.status).toBe(200);
    const entry = audit.body.items.find((e: { target: string | null }) => e.target === `performance-report:${weekId}`);
    expect(entry).toMatchObject({ outcome: 'success', parameters: expect.objectContaining({ start_date: firstFull, end_date: lastFull }) });
    expect(audit.body.items.some((e: { outcome: string }) => e.outcome === 'denied' || e.outcome === 'failure')).toBe(true);
  });

  it('GraphQL: generatePerformanceReport, performanceReports, performanceReport(id); a viewer may not generate', async () => {
    const operator = await t.tokenFor(Role.Operator);
    const made = await t.gql(operator, 'mutation($i: PerformanceReportInput!) { generatePerformanceReport(input: $i) { id startDate endDate timeZone include summary report } }', {
      i: { start_date: spikeDate, end_date: spikeDate, include: ['response_times', 'availability', 'backups'] },
    });
    expect(made.body.errors).toBeUndefined();
    const r = made.body.data.generatePerformanceReport;
    expect(r).toMatchObject({ startDate: spikeDate, endDate: spikeDate, timeZone: TZ, include: ['response_times', 'availability', 'backups'] });
    expect(r.report.sections.response_times.days[0].worstHour.p95Seconds).toBeGreaterThan(1);
    expect(r.report.sections.availability.checklist).toMatchObject({ runs: 0, passRatePercent: null });
    expect(r.report.sections.availability.backend.computedFrom[0].promql).toContain('up{instance="127.0.0.1:18000"}');
    expect(r.report.sections.backups).toMatchObject({ made: 0, verified: 0, failed: 0 });
    const listed = await t.gql(viewer, '{ performanceReports(limit: 5) { items { id report } nextCursor } }');
    expect(listed.body.data.performanceReports.items[0]).toEqual({ id: r.id, report: null });
    const got = await t.gql(viewer, 'query($id: String!) { performanceReport(id: $id) { id report } }', { id: r.id });
    expect(got.body.data.performanceReport.report).toEqual(r.report);
    const bad = await t.gql(operator, 'mutation { generatePerformanceReport(input: { start_date: "2026-02-30", end_date: "2026-03-01" }) { id } }');
    expect(bad.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(bad.body.errors[0].message).toMatch(/^start_date: must be a real calendar date/);
    const denied = await t.gql(viewer, `mutation { generatePerformanceReport(input: { start_date: "${spikeDate}", end_date: "${spikeDate}" }) { id } }`);
    expect(denied.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });

  it('/metrics exports when the last performance report (requested, not weekly) was generated', async () => {
    const res = await t.http().get('/metrics');
    expect(res.status).toBe(200);
    const line = res.text.split('\n').find((l) => l.startsWith('ops_report_last_generated_timestamp{kind="performance"}'));
    expect(line).toBeDefined();
    const latest = await withClient(t.database, async (c) => (await c.query("SELECT max(generated_at) AS at FROM performance_reports WHERE kind = 'performance'")).rows[0].at as Date);
    expect(Number(line!.split(' ')[1])).toBeCloseTo(latest.getTime() / 1000, 2);
  });

  it('Prometheus stopped for ~40 s: the report of today marks that window as a gap', { timeout: 300_000 }, async () => {
    const ready = async () => {
      try {
        return (await fetch(`${PROM}/-/ready`)).ok;
      } catch {
        return false;
      }
    };
    await waitFor('Prometheus ready', ready, 90_000);
    const stoppedAt = Date.now();
    execFileSync('docker', ['stop', '-t', '5', 'erp-prometheus'], { stdio: 'ignore' });
    let startedAt = 0;
    try {
      await new Promise((r) => setTimeout(r, 40_000));
    } finally {
      execFileSync('docker', ['start', 'erp-prometheus'], { stdio: 'ignore' });
      await waitFor('Prometheus ready again', ready, 120_000);
      startedAt = Date.now();
    }
    // Let scrapes after the restart land and age past the report's read lag.
    await new Promise((r) => setTimeout(r, 150_000));
    const today = localTime(Date.now(), TZ).date;
    const res = await t.http().post(PATH).set('Authorization', `Bearer ${panelToken}`).send({ start_date: today, end_date: today, include: ['usage_patterns'] });
    expect(res.status).toBe(201);
    const { gaps } = res.body.dataCoverage;
    const covering = gaps.filter((g: { from: string; to: string }) => Date.parse(g.from) <= startedAt && Date.parse(g.to) >= stoppedAt + 30_000);
    expect({ gaps, covering: covering.length > 0 }).toMatchObject({ covering: true });
    expect(covering[0].missingSamples).toBeGreaterThanOrEqual(2);
    expect(res.body.dataCoverage.days[0].coverage).toBeLessThan(1);
    expect(res.body.period.complete).toBe(false);
  });
});
