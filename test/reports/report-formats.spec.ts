/**
 * The performance report's formats through the API (a real report from the stand-in's
 * Prometheus, fetched as HTML, zip of CSV tables, one section's CSV; 400, 404, 406), and the
 * HTML page as a browser shows it: headless Chromium loads it, its DOM still holds the four
 * SVG charts with their series and no script, and its screenshot is not blank.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { strFromU8, unzipSync } from 'fflate';
import { projectRoot } from '../../src/common/paths';
import { Role } from '../../src/common/rights';
import { renderReportHtml } from '../../src/modules/reports/render/report-html';
import { addDays, localTime, startOfLocalDay } from '../../src/modules/reports/report-period';
import { withClient } from '../helpers/db';
import { decodePng, distinctColours } from '../helpers/png';
import { HOSTILE_ENDPOINT, sampleReport } from '../helpers/report-fixture';
import { startTestApp, TestApp } from '../helpers/test-app';

const TZ = 'Asia/Jakarta';
const PATH = '/admin/reports/performance';

function historyDays(): { first: string; last: string } {
  const shared = '/var/lib/erp-stack/history.json';
  const file = existsSync(shared) ? shared : join(projectRoot(), 'stack/run/history.json');
  const info = JSON.parse(readFileSync(file, 'utf8')) as { start: number; end: number; stepSeconds: number };
  const dateOf = (s: number) => localTime(s * 1000, TZ).date;
  let first = dateOf(info.start);
  if (startOfLocalDay(first, TZ) < info.start * 1000) first = addDays(first, 1);
  let last = dateOf(info.end);
  if (startOfLocalDay(addDays(last, 1), TZ) > (info.end + info.stepSeconds) * 1000) last = addDays(last, -1);
  // Three whole days are enough for the formats.
  return { first, last: addDays(first, 2) < last ? addDays(first, 2) : last };
}

/** Binary bodies (zip) as a Buffer through supertest. */
const binary = (res: any, cb: (err: Error | null, body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
};

function chromium(): string {
  for (const bin of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim();
    } catch {
      // next
    }
  }
  throw new Error('chromium is not installed: scripts/stack/up.sh installs it (apt-get install --no-install-recommends chromium)');
}

function browse(html: string, dir: string): { dom: string; screenshot: Buffer } {
  const bin = chromium();
  const file = join(dir, `page-${Date.now()}.html`);
  writeFileSync(file, html);
  const flags = [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-dev-shm-usage',
    `--user-data-dir=${join(dir, 'profile')}`,
  ];
  const dom = execFileSync(bin, [...flags, '--dump-dom', `file://${file}`], {
    encoding: 'utf8',
    timeout: 90_000,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const shot = join(dir, 'shot.png');
  rmSync(shot, { force: true });
  execFileSync(bin, [...flags, `--screenshot=${shot}`, '--window-size=1000,2400', '--hide-scrollbars', `file://${file}`], {
    timeout: 90_000,
    stdio: 'ignore',
  });
  return { dom, screenshot: readFileSync(shot) };
}

/** The charts in a DOM as Chromium serialised it: each figure's SVG and its path count. */
function chartsIn(dom: string): Map<string, { svg: string; paths: number }> {
  const charts = new Map<string, { svg: string; paths: number }>();
  for (const m of dom.matchAll(/<figure data-chart="([^"]+)">([\s\S]*?)<\/figure>/g)) {
    const svg = /<svg[\s\S]*<\/svg>/.exec(m[2])?.[0] ?? '';
    charts.set(m[1], { svg, paths: (svg.match(/<path/g) ?? []).length });
  }
  return charts;
}

describe('performance report formats on the stand-in stack', () => {
  let t: TestApp;
  let operator: string;
  let reportId: string;
  let dir: string;
  const { first, last } = historyDays();
  const rows = () =>
    withClient(t.database, async (c) => Number((await c.query('SELECT count(*) AS n FROM performance_reports')).rows[0].n));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'report-formats-'));
    t = await startTestApp({ inventoryFile: 'stack/ops.stack.yaml' });
    operator = await t.tokenFor(Role.Operator);
  });
  after(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('POST ?format=html: 201 with Location and the page; the report is stored and served as JSON by default', async () => {
    const res = await t
      .http()
      .post(`${PATH}?format=html`)
      .set('Authorization', `Bearer ${operator}`)
      .send({ start_date: first, end_date: last });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers.location).toMatch(new RegExp(`^${PATH}/[0-9a-f-]{36}$`));
    reportId = res.headers.location.split('/').pop()!;
    expect(res.text.match(/<svg/g)).toHaveLength(4);
    expect(res.text).not.toMatch(/<script/i);
    const json = await t.http().get(`${PATH}/${reportId}`).set('Authorization', `Bearer ${operator}`);
    expect(json.status).toBe(200);
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(json.body).toMatchObject({ id: reportId, schemaVersion: 1, period: { startDate: first, endDate: last } });
  });

  it("GET as zip (Accept or ?format=csv), one section's CSV, matching the JSON's numbers", async () => {
    const auth = `Bearer ${operator}`;
    const json = (await t.http().get(`${PATH}/${reportId}`).set('Authorization', auth)).body;
    for (const call of [
      t.http().get(`${PATH}/${reportId}`).set('Accept', 'application/zip'),
      t.http().get(`${PATH}/${reportId}?format=csv`).set('Accept', 'application/json'),
    ]) {
      const res = await call.set('Authorization', auth).buffer(true).parse(binary);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/zip');
      expect(res.headers['content-disposition']).toBe(`attachment; filename="performance-report-${first}_${last}.zip"`);
      const files = unzipSync(new Uint8Array(res.body as Buffer));
      expect(Object.keys(files)).toEqual(
        expect.arrayContaining([
          'summary.csv',
          'gaps.csv',
          'response_times.csv',
          'error_rates.csv',
          'usage_patterns.csv',
          'usage_patterns-weekday_hour.csv',
          'usage_patterns-top_endpoints.csv',
        ]),
      );
      const days = strFromU8(files['usage_patterns.csv']).split('\r\n');
      expect(days[0]).toBe('date,coverage,requests,gaps');
      expect(days[1]).toBe(`${first},1,${json.sections.usage_patterns.days[0].requests},`);
    }
    const csv = await t.http().get(`${PATH}/${reportId}?section=response_times`).set('Authorization', auth);
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    const lines = csv.text.split('\r\n');
    expect(lines[0].startsWith('date,coverage,requests,p50_seconds,p95_seconds,p99_seconds')).toBe(true);
    expect(lines).toHaveLength(json.sections.response_times.days.length + 2);
    const top = await t.http().get(`${PATH}/${reportId}?format=csv&section=usage_patterns&table=top_endpoints`).set('Authorization', auth);
    expect(top.text.split('\r\n')).toHaveLength(12); // header, 10 endpoints, final CRLF
  });

  it('400 for a bad format or section, 404 for a section not in the report, 406 for an Accept with no format of ours; a bad POST stores nothing', async () => {
    const auth = `Bearer ${operator}`;
    const bad = await t.http().get(`${PATH}/${reportId}?format=pdf`).set('Authorization', auth);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('format: must be one of json, csv, html');
    const badSection = await t.http().get(`${PATH}/${reportId}?section=latency`).set('Authorization', auth);
    expect(badSection.status).toBe(400);
    expect(badSection.body.message).toContain('response_times, error_rates, usage_patterns, availability, backups, incidents');
    const missing = await t.http().get(`${PATH}/${reportId}?section=backups`).set('Authorization', auth);
    expect(missing.status).toBe(404);
    expect(missing.body.message).toContain('does not include backups');
    const none = await t.http().get(`${PATH}/${reportId}`).set('Accept', 'application/pdf').set('Authorization', auth);
    expect(none.status).toBe(406);
    expect(none.body.message).toContain('supported: application/json, text/html, application/zip');
    const count = await rows();
    for (const q of ['?format=xml', '?section=backups']) {
      const res = await t.http().post(`${PATH}${q}`).set('Authorization', auth).send({ start_date: first, end_date: last });
      expect(res.status).toBe(400);
    }
    const notAcceptable = await t
      .http()
      .post(PATH)
      .set('Accept', 'image/png')
      .set('Authorization', auth)
      .send({ start_date: first, end_date: last });
    expect(notAcceptable.status).toBe(406);
    expect(await rows()).toBe(count);
  });

  it('headless Chromium shows the report: four SVG charts with their series, no script, a screenshot that is not blank', async () => {
    const res = await t.http().get(`${PATH}/${reportId}`).set('Accept', 'text/html').set('Authorization', `Bearer ${operator}`);
    expect(res.status).toBe(200);
    const { dom, screenshot } = browse(res.text, dir);
    const charts = chartsIn(dom);
    expect([...charts.keys()]).toEqual(['latency', 'error_rate', 'weekday_hour', 'top_endpoints']);
    for (const [id, chart] of charts) {
      expect({ id, paths: chart.paths > 5 }).toEqual({ id, paths: true });
    }
    expect(charts.get('weekday_hour')!.paths).toBeGreaterThanOrEqual(7 * 24);
    expect(charts.get('latency')!.svg).toContain('target p95');
    expect(dom).not.toMatch(/<script/i);
    const png = decodePng(screenshot);
    expect(png.width).toBe(1000);
    expect(png.height).toBe(2400);
    expect(distinctColours(png)).toBeGreaterThan(50);
  });

  it('headless Chromium on a page with a hostile endpoint name: shown as text, never a script element', () => {
    const { html } = renderReportHtml(sampleReport());
    const { dom, screenshot } = browse(html, dir);
    expect(dom).not.toMatch(/<script/i);
    expect(dom).toContain(HOSTILE_ENDPOINT.replace(/</g, '&lt;').replace(/>/g, '&gt;'));
    expect(chartsIn(dom).size).toBe(4);
    expect(distinctColours(decodePng(screenshot))).toBeGreaterThan(50);
  });
});
