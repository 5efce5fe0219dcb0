/**
 * The weekly report mailed to management: generated for the last 7 days, stored, mailed to a
 * real SMTP server started here with the charts inline and the CSV tables attached; its HTML
 * renders in headless Chromium (Debian's chromium) with every chart image decoded; a refused
 * mail is retried by the queue and every attempt recorded; the report is kept either way.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { weeklyPeriod, weeklySubject } from '../../src/modules/reports/weekly-report';
import { withClient } from '../helpers/db';
import { MailSink, startMailSink } from '../helpers/notify-sinks';
import { startTestApp, TestApp } from '../helpers/test-app';
import { waitFor } from '../stack/stack-helpers';

const STACK_INVENTORY = 'stack/ops.stack.yaml';

/** The file names in a zip (central directory) and each entry's text (stored or deflated). */
function unzip(zip: Buffer): Record<string, string> {
  const files: Record<string, string> = {};
  let at = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(at + 10);
  let cd = zip.readUInt32LE(at + 16);
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(cd + 10);
    const size = zip.readUInt32LE(cd + 20);
    const nameLength = zip.readUInt16LE(cd + 28);
    const extra = zip.readUInt16LE(cd + 30);
    const comment = zip.readUInt16LE(cd + 32);
    const local = zip.readUInt32LE(cd + 42);
    const name = zip.subarray(cd + 46, cd + 46 + nameLength).toString('utf8');
    const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(data, data + size);
    files[name] = (method === 8 ? inflateRawSync(raw) : raw).toString('utf8');
    cd += 46 + nameLength + extra + comment;
  }
  at = 0;
  return files;
}

/**
 * Renders the mail's HTML in headless Chromium (cid: images swapped for data: URIs, as a mail
 * client shows them) and returns each image's decoded size, read in the page after load.
 */
function renderInChromium(html: string, images: Map<string, Buffer>, dir: string): { sizes: string[]; dom: string } {
  let page = html.replace(/cid:([^"' )]+)/g, (_m, cid: string) => {
    const png = images.get(cid);
    return png ? `data:image/png;base64,${png.toString('base64')}` : `cid:${cid}`;
  });
  // The test's own probe (never in the mailed HTML): each image's natural size once loaded.
  page = page.replace(
    '</body>',
    `<script>addEventListener('load', () => { document.body.setAttribute('data-images', [...document.images].map((i) => i.naturalWidth + 'x' + i.naturalHeight).join(',')); });</script></body>`,
  );
  const file = path.join(dir, 'weekly.html');
  writeFileSync(file, page);
  const dom = execFileSync(
    'chromium',
    [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--virtual-time-budget=5000',
      '--dump-dom',
      `file://${file}`,
    ],
    { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const sizes = (/data-images="([^"]*)"/.exec(dom)?.[1] ?? '').split(',').filter(Boolean);
  return { sizes, dom };
}

describe('the weekly report mailed to management', () => {
  let t: TestApp;
  let mail: MailSink & { rejected: number };
  let dir: string;
  let operator: string;
  let viewer: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'erp-weekly-'));
    mail = await startMailSink();
    t = await startTestApp({
      inventoryFile: STACK_INVENTORY,
      inventoryPatch: (doc) => {
        doc.notifications.smtpUrl = mail.url;
        doc.notifications.chatWebhookUrl = '';
      },
    });
    operator = await t.tokenFor(Role.Operator);
    viewer = await t.tokenFor(Role.Viewer);
  });
  after(async () => {
    await t?.close();
    await mail?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('subject and period as the runbook writes them', () => {
    expect(weeklySubject('2026-01-13', '2026-01-19')).toBe('ERP Weekly Performance Report - Week of Jan 13-19');
    expect(weeklySubject('2026-01-27', '2026-02-02')).toBe('ERP Weekly Performance Report - Week of Jan 27-Feb 2');
    // Friday 2026-01-23 17:00 in Jakarta (10:00 UTC): Saturday 17th to Friday 23rd.
    expect(weeklyPeriod(Date.parse('2026-01-23T10:00:00Z'), 'Asia/Jakarta')).toEqual({ startDate: '2026-01-17', endDate: '2026-01-23' });
  });

  it('POST /admin/reports/weekly: stored, mailed with the charts inline and the CSV attached; the HTML renders in Chromium with every chart', async () => {
    expect((await t.http().post('/admin/reports/weekly').set('Authorization', `Bearer ${viewer}`).send({})).status).toBe(403);
    const before = mail.messages.length;
    const res = await t.http().post('/admin/reports/weekly').set('Authorization', `Bearer ${operator}`).send({});
    expect(res.status).toBe(201);
    const report = res.body.report;
    expect(res.headers.location).toBe(`/admin/reports/performance/${report.id}`);
    expect(report.include).toEqual(['response_times', 'error_rates', 'usage_patterns', 'availability', 'backups', 'incidents']);
    expect(report.period.days).toBe(7);
    const subject = weeklySubject(report.period.startDate, report.period.endDate);
    expect(res.body.delivery).toMatchObject({
      reportId: report.id,
      kind: 'weekly',
      subject,
      delivered: true,
      recipients: ['management@qutykarunia.com'],
      attempt: 1,
    });

    await waitFor('the weekly mail', async () => mail.messages.length > before, 15_000);
    const message = mail.messages[before];
    expect(message.subject).toBe(subject);
    expect(JSON.stringify(message.to)).toMatch(/management@qutykarunia\.com/);
    expect(message.text).toContain(`Period: ${report.period.startDate} to ${report.period.endDate}`);
    const html = String(message.html);
    const pngs = message.attachments.filter((a) => a.contentType === 'image/png');
    expect(pngs.length).toBeGreaterThanOrEqual(4);
    for (const png of pngs) {
      expect(png.content.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      expect(html).toContain(`cid:${png.cid}`);
    }
    const zip = message.attachments.find((a) => a.contentType === 'application/zip');
    expect(zip?.filename).toBe(`performance-report-${report.period.startDate}_${report.period.endDate}.zip`);
    const files = unzip(zip!.content);
    const names = Object.keys(files);
    expect(names.some((n) => n.startsWith('response_times'))).toBe(true);
    expect(names.some((n) => n.startsWith('error_rates'))).toBe(true);
    expect(names.some((n) => n.startsWith('usage_patterns'))).toBe(true);
    expect(names).toEqual(
      expect.arrayContaining([
        'summary.csv',
        'response_times.csv',
        'error_rates.csv',
        'usage_patterns.csv',
        'availability.csv',
        'backups.csv',
        'incidents.csv',
        'incidents-incidents.csv',
      ]),
    );
    const days = files['response_times.csv'] ?? ''; // the per-day table
    expect(days.split('\n')[0]).toMatch(/date/);
    expect(days).toContain(report.period.endDate);

    // Headless Chromium: every chart image decodes and has a size.
    const { sizes } = renderInChromium(html, new Map(pngs.map((p) => [String(p.cid), p.content])), dir);
    expect(sizes.length).toBe(pngs.length);
    for (const size of sizes) expect(size).toMatch(/^[1-9]\d*x[1-9]\d*$/);

    // Recorded and listed; audited.
    const deliveries = await t.http().get(`/admin/reports/performance/${report.id}/deliveries`).set('Authorization', `Bearer ${viewer}`);
    expect(deliveries.status).toBe(200);
    expect(deliveries.body.map((d: any) => [d.kind, d.delivered])).toEqual([['weekly', true]]);
    expect(JSON.stringify(deliveries.body)).not.toMatch(/smtp:\/\/127\.0\.0\.1:\d+\/|password/i);
    const audit = (await withClient(t.database, (c) => c.query("SELECT outcome FROM audit_entries WHERE action = 'report.weekly.create'")))
      .rows;
    expect(audit.map((a) => a.outcome)).toEqual(['denied', 'success']);

    // A weekly report is its own kind, in the document and in /metrics.
    expect(report.kind).toBe('weekly');
    const metrics = (await t.scrape()).text.split('\n');
    const at = (kind: string) => metrics.find((l) => l.startsWith(`ops_report_last_generated_timestamp{kind="${kind}"}`));
    expect(Number(at('weekly')!.split(' ')[1])).toBeCloseTo(Date.parse(report.generatedAt) / 1000, 2);
    // No performance report was made in this database: the weekly one does not count as one.
    const performance = await withClient(
      t.database,
      async (c) => (await c.query("SELECT count(*)::int AS n FROM performance_reports WHERE kind = 'performance'")).rows[0].n as number,
    );
    expect([performance, at('performance')]).toEqual([0, undefined]);
  });

  it('a failed mail is recorded, the report kept; sending again delivers it; unknown reports 404', async () => {
    const down = await startTestApp({
      inventoryFile: STACK_INVENTORY,
      inventoryPatch: (doc) => {
        doc.notifications.smtpUrl = 'smtp://127.0.0.1:1'; // nothing listens
        doc.notifications.chatWebhookUrl = '';
      },
      shareWith: t,
    });
    try {
      const res = await down.http().post('/admin/reports/weekly').set('Authorization', `Bearer ${operator}`).send({});
      expect(res.status).toBe(201);
      expect(res.body.delivery.delivered).toBe(false);
      expect(res.body.delivery.error).toMatch(/refused|ECONNREFUSED|connect/i);
      const id = res.body.report.id;
      expect((await t.http().get(`/admin/reports/performance/${id}`).set('Authorization', `Bearer ${viewer}`)).status).toBe(200);
      const before = mail.messages.length;
      const again = await t.http().post(`/admin/reports/performance/${id}/send`).set('Authorization', `Bearer ${operator}`).send({});
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ delivered: true, kind: 'manual' });
      await waitFor('the mail sent again', async () => mail.messages.length > before, 15_000);
      const deliveries = (await t.http().get(`/admin/reports/performance/${id}/deliveries`).set('Authorization', `Bearer ${viewer}`)).body;
      expect(deliveries.map((d: any) => [d.kind, d.delivered])).toEqual([
        ['weekly', false],
        ['manual', true],
      ]);
      expect(
        (
          await t
            .http()
            .post('/admin/reports/performance/8e4c6f8a-0000-4000-8000-000000000000/send')
            .set('Authorization', `Bearer ${operator}`)
            .send({})
        ).status,
      ).toBe(404);
      expect(
        (await t.http().post('/admin/reports/performance/not-a-uuid/send').set('Authorization', `Bearer ${operator}`).send({})).status,
      ).toBe(400);
    } finally {
      await down.close();
    }
  });

  it('the schedule: the job generates the report once and mails it; a refused mail is retried by the queue, every attempt recorded', async () => {
    const flaky = await startMailSink({ rejectFirst: 3 }); // the notifier's own 3 tries all refused: the job fails once
    const app = await startTestApp({
      inventoryFile: STACK_INVENTORY,
      env: { OPS_SCHEDULER: 'true', OPS_REPORT_RETRY_DELAY_MS: '300' },
      inventoryPatch: (doc) => {
        doc.notifications.smtpUrl = flaky.url;
        doc.notifications.chatWebhookUrl = '';
        doc.schedules.weeklyReport = '*/20 * * * * *'; // every 20 s (seconds first), for the test
      },
    });
    try {
      const rows = await waitFor(
        'a weekly report mailed by the schedule',
        async () => {
          const r = (
            await withClient(app.database, (c) =>
              c.query('SELECT report_id, kind, attempt, delivered, created_at FROM report_deliveries ORDER BY created_at'),
            )
          ).rows;
          return r.some((x) => x.delivered) ? r : null;
        },
        90_000,
      );
      const first = rows.filter((r) => r.report_id === rows[0].report_id);
      expect(first.map((r) => [r.kind, r.attempt, r.delivered])).toEqual([
        ['weekly', 1, false],
        ['weekly', 2, true],
      ]);
      expect(flaky.rejected).toBe(3);
      expect(flaky.messages.length).toBeGreaterThanOrEqual(1);
      // One report for that tick: the retry mailed it again, it did not generate another.
      const upTo = first[1].created_at;
      const reports = (
        await withClient(app.database, (c) =>
          c.query("SELECT count(*)::int AS n FROM performance_reports WHERE generated_by = 'scheduler' AND generated_at <= $1", [upTo]),
        )
      ).rows[0].n;
      expect(reports).toBe(1);
    } finally {
      await app.close();
      await flaky.close();
    }
  });
});
