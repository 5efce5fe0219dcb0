/**
 * The performance report's renderings, from a hand-made report with a gap day (nulls) and
 * hostile labels: CSV tables (RFC 4180 quoting, empty cells for missing data), the zip of
 * every table (unzipped here), the HTML page (charts inline, escaped labels, no script), the
 * PNG charts (decoded here), and the format negotiation (400, 404, 406).
 */
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { strFromU8, unzipSync } from 'fflate';
import { DomainError } from '../../src/common/errors';
import { csvField, renderReportCsvZip, renderSectionCsv, toCsv } from '../../src/modules/reports/render/report-csv';
import { renderReportCharts } from '../../src/modules/reports/render/report-charts';
import { negotiateReportFormat, parseAccept, renderReportAs } from '../../src/modules/reports/render/report-format';
import { escapeHtml, renderReportHtml } from '../../src/modules/reports/render/report-html';
import { decodePng, distinctColours, PNG_SIGNATURE } from '../helpers/png';
import { COMMA_QUOTE_ENDPOINT, HOSTILE_ENDPOINT, sampleReport } from '../helpers/report-fixture';

const lines = (csv: string) => csv.split('\r\n').slice(0, -1);
const statusOf = (fn: () => unknown): number => {
  try {
    fn();
  } catch (error) {
    if (error instanceof DomainError) return error.status;
    throw error;
  }
  return 0;
};

describe('performance report as CSV', () => {
  it('quotes as RFC 4180 says: comma, quote and line breaks quoted, quotes doubled, CRLF lines', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
    expect(csvField(0)).toBe('0');
    expect(toCsv(['a', 'b'], [[1, null]])).toBe('a,b\r\n1,\r\n');
  });

  it('response_times per day: headers, the gap day as empty cells with coverage 0, never a 0 for missing data', () => {
    const csv = renderSectionCsv(sampleReport(), 'response_times');
    const [header, day1, gap, day3] = lines(csv);
    expect(header).toBe(
      'date,coverage,requests,p50_seconds,p95_seconds,p99_seconds,p95_target_seconds,meets_target,worst_hour,worst_hour_p95_seconds,gaps',
    );
    expect(day1).toBe('2026-01-13,1,2500,0.11,0.7,1.2,1,true,2026-01-13 10:00,1.4,');
    expect(gap).toBe('2026-01-14,0,,,,,1,,,,2026-01-13T17:00:00.000Z/2026-01-14T17:00:00.000Z');
    expect(day3.startsWith('2026-01-15,1,1500,')).toBe(true);
    expect(lines(csv)).toHaveLength(4);
  });

  it('endpoint tables quote a label holding a comma and a quote', () => {
    const csv = renderSectionCsv(sampleReport(), 'response_times', 'slowest_endpoints');
    expect(lines(csv)[0]).toBe('rank,method,endpoint,requests,p50_seconds,p95_seconds,worst_day,worst_day_p95_seconds');
    expect(lines(csv)[1]).toBe(`1,GET,${HOSTILE_ENDPOINT},100,0.5,1.8,2026-01-13,1.9`);
    expect(lines(csv)[2]).toBe('2,POST,"/api/items,""special""",300,0.2,0.6,2026-01-15,0.7');
    const top = lines(renderSectionCsv(sampleReport(), 'usage_patterns', 'top_endpoints'));
    expect(top[2]).toBe('2,POST,"/api/items,""special""",300,7.5');
  });

  it('error types per day, the weekday × hour matrix and the methods', () => {
    const report = sampleReport();
    expect(lines(renderSectionCsv(report, 'error_rates', 'error_types'))).toEqual([
      'error_type,count,2026-01-13,2026-01-14,2026-01-15',
      'server_error,60,10,,50',
    ]);
    expect(lines(renderSectionCsv(report, 'error_rates'))[2]).toBe(
      '2026-01-14,0,,,,1,,,,2026-01-13T17:00:00.000Z/2026-01-14T17:00:00.000Z',
    );
    const matrix = lines(renderSectionCsv(report, 'usage_patterns', 'weekday_hour'));
    expect(matrix).toHaveLength(8);
    expect(matrix[0].split(',')).toEqual(['weekday', ...Array.from({ length: 24 }, (_, h) => `h${String(h).padStart(2, '0')}`)]);
    expect(matrix[2].split(',').slice(0, 10)).toEqual(['Tue', '5', '5', '5', '5', '5', '5', '5', '5', '180']);
    expect(lines(renderSectionCsv(report, 'usage_patterns', 'methods'))).toEqual([
      'method,requests,share_percent',
      'GET,3700,92.5',
      'POST,300,7.5',
    ]);
    expect(lines(renderSectionCsv(report, 'usage_patterns'))[2]).toBe('2026-01-14,0,,2026-01-13T17:00:00.000Z/2026-01-14T17:00:00.000Z');
  });

  it('zips one CSV per table, which unzip to the same text as the single-section CSV', () => {
    const report = sampleReport();
    const zip = renderReportCsvZip(report);
    expect(zip.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
    const files = unzipSync(new Uint8Array(zip));
    expect(Object.keys(files).sort()).toEqual([
      'error_rates-endpoints.csv',
      'error_rates-error_types.csv',
      'error_rates.csv',
      'gaps.csv',
      'response_times-hours_above_target.csv',
      'response_times-slowest_endpoints.csv',
      'response_times.csv',
      'summary.csv',
      'usage_patterns-methods.csv',
      'usage_patterns-top_endpoints.csv',
      'usage_patterns-weekday_hour.csv',
      'usage_patterns.csv',
    ]);
    expect(strFromU8(files['response_times.csv'])).toBe(renderSectionCsv(report, 'response_times'));
    expect(strFromU8(files['usage_patterns-top_endpoints.csv'])).toBe(renderSectionCsv(report, 'usage_patterns', 'top_endpoints'));
    expect(lines(strFromU8(files['gaps.csv']))).toEqual([
      'from,to,missing_samples',
      '2026-01-13T17:00:00.000Z,2026-01-14T17:00:00.000Z,1440',
    ]);
    const summary = lines(strFromU8(files['summary.csv']));
    expect(summary).toContain('error_rate_target_met,false');
    expect(summary).toContain('p95_target_seconds,1');
  });

  it('a section the report does not include, or an unknown table, is refused with the allowed values', () => {
    expect(() => renderSectionCsv(sampleReport(), 'backups')).toThrow(
      /does not include the section backups \(it has response_times, error_rates, usage_patterns\)/,
    );
    expect(() => renderSectionCsv(sampleReport(), 'usage_patterns', 'nope')).toThrow(/allowed: days, weekday_hour, top_endpoints, methods/);
  });
});

describe('performance report as HTML with charts', () => {
  it('escapes every character that matters in HTML', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('one self-contained page: four inline SVG charts with their series, the tables, gaps called out, the hostile label escaped, no script', () => {
    const { html, images } = renderReportHtml(sampleReport());
    expect(images).toEqual([]);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html.match(/<svg/g)).toHaveLength(4);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\((?!#)/i); // only references inside the page's own SVGs
    const ids = [...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length); // the four charts' clip paths do not collide
    expect(html).toContain('/api/&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('/api/items,&quot;special&quot;');
    for (const id of ['latency', 'error_rate', 'weekday_hour', 'top_endpoints']) expect(html).toContain(`data-chart="${id}"`);
    // The verdicts and targets, and the gap day.
    expect(html).toMatch(/p95 response time<\/td><td>0\.82 s<\/td><td>&lt; 1 s<\/td><td class="text"><span class="verdict pass">met/);
    expect(html).toMatch(/error rate \(5xx\)<\/td><td>1\.5 %<\/td><td>&lt; 1 %<\/td><td class="text"><span class="verdict fail">missed/);
    expect(html).toContain('No metrics at all for 2026-01-14');
    expect(html).toContain('no data from 2026-01-13T17:00:00.000Z to 2026-01-14T17:00:00.000Z');
    expect(html).toMatch(/<tr class="gap"><td class="text">2026-01-14<\/td><td>0<\/td><td class="empty"><\/td>/);
    expect(html.match(/<table>/g)!.length).toBeGreaterThanOrEqual(12);
  });

  it('the charts carry their series: three latency lines and the target line, bars, heat map cells, endpoint bars', () => {
    const charts = renderReportCharts(sampleReport());
    expect(charts.map((c) => c.id)).toEqual(['latency', 'error_rate', 'weekday_hour', 'top_endpoints']);
    for (const c of charts) {
      expect(c.svg.startsWith('<svg')).toBe(true);
      expect(c.svg).toContain(`width="${c.width}"`);
      expect(c.svg).not.toMatch(/<script/i);
      expect((c.svg.match(/<path/g) ?? []).length).toBeGreaterThan(5);
    }
    const [latency, errors, heat, top] = charts;
    expect(latency.svg).toContain('target p95 &lt; 1 s');
    expect(latency.svg).toContain('p99');
    expect(errors.svg).toContain('target &lt; 1 %');
    // 2 × 24 non-zero hour cells (Tue and Thu) plus 5 empty weekdays drawn in the lightest colour.
    expect((heat.svg.match(/<path/g) ?? []).length).toBeGreaterThanOrEqual(7 * 24);
    expect(top.svg).toContain('GET /api/v1/orders');
    expect(top.svg).toContain('&lt;script&gt;');
    expect(top.svg).not.toContain('<script>');
  });

  it('the target lines are drawn when every day is well below its target', () => {
    const report = sampleReport();
    for (const d of report.sections.response_times.days)
      if (d.p99Seconds !== null) Object.assign(d, { p50Seconds: 0.05, p95Seconds: 0.1, p99Seconds: 0.2 });
    for (const d of report.sections.error_rates.days) if (d.ratePercent !== null) d.ratePercent = 0.05;
    const [latency, errors] = renderReportCharts(report);
    expect(latency.svg).toContain('target p95 &lt; 1 s');
    expect(errors.svg).toContain('target &lt; 1 %');
  });

  it('cid mode: <img src="cid:…"> for each chart and its PNG (signature, size, not blank)', () => {
    const { html, images } = renderReportHtml(sampleReport(), { images: 'cid' });
    expect(html).not.toContain('<svg');
    expect(images.map((i) => i.filename)).toEqual(['latency.png', 'error_rate.png', 'weekday_hour.png', 'top_endpoints.png']);
    for (const image of images) {
      expect(html).toContain(`<img src="cid:${image.cid}"`);
      expect(image.contentType).toBe('image/png');
      expect(image.content.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
      const png = decodePng(image.content);
      expect(png.width).toBe(1720);
      expect(png.height).toBe(image.height);
      expect(png.height).toBeGreaterThanOrEqual(400);
      expect(png.height).toBeLessThanOrEqual(1000);
      expect(distinctColours(png)).toBeGreaterThan(10);
    }
  });
});

describe('report format negotiation', () => {
  it('?format= wins over Accept; Accept picks JSON, HTML or the zip; with section, one CSV', () => {
    expect(negotiateReportFormat({})).toBe('json');
    expect(negotiateReportFormat({ accept: '*/*' })).toBe('json');
    expect(negotiateReportFormat({ accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' })).toBe('html');
    expect(negotiateReportFormat({ accept: 'application/zip' })).toBe('zip');
    expect(negotiateReportFormat({ accept: 'application/json;q=0.5, text/html' })).toBe('html');
    expect(negotiateReportFormat({ format: 'csv', accept: 'application/json' })).toBe('zip');
    expect(negotiateReportFormat({ format: 'json', accept: 'text/html' })).toBe('json');
    expect(negotiateReportFormat({ section: 'error_rates' })).toBe('csv');
    expect(negotiateReportFormat({ section: 'error_rates', accept: 'text/csv' })).toBe('csv');
    expect(parseAccept('a/b;q=0, c/d;q=0.4, e/f').map((r) => `${r.type}/${r.subtype}`)).toEqual(['e/f', 'c/d']);
  });

  it('400 for a bad format or section (naming the allowed values), 406 for an Accept with none of them', () => {
    expect(() => negotiateReportFormat({ format: 'pdf' })).toThrow('format: must be one of json, csv, html');
    expect(() => negotiateReportFormat({ format: ['csv', 'html'] })).toThrow('format: must be one of');
    expect(() => negotiateReportFormat({ format: 'csv', section: 'latency' })).toThrow(
      'section: must be one of response_times, error_rates, usage_patterns, availability, backups',
    );
    expect(statusOf(() => negotiateReportFormat({ format: 'html', section: 'error_rates' }))).toBe(400);
    expect(statusOf(() => negotiateReportFormat({ accept: 'application/pdf' }))).toBe(406);
    expect(() => negotiateReportFormat({ accept: 'image/png' })).toThrow(/supported: application\/json, text\/html, application\/zip/);
    expect(() => negotiateReportFormat({ accept: 'text/csv' })).toThrow(/add \?section=/);
    expect(statusOf(() => negotiateReportFormat({ section: 'usage_patterns', accept: 'application/json' }))).toBe(406);
  });

  it('renders with headers: the zip as an attachment named by the period, one CSV, 404 for a section not in the report', () => {
    const report = sampleReport();
    const zip = renderReportAs(report, 'zip');
    expect(zip).toMatchObject({
      contentType: 'application/zip',
      disposition: 'attachment; filename="performance-report-2026-01-13_2026-01-15.zip"',
    });
    const csv = renderReportAs(report, 'csv', 'error_rates', 'endpoints');
    expect(csv.contentType).toBe('text/csv; charset=utf-8');
    expect(String(csv.body)).toContain(`"${COMMA_QUOTE_ENDPOINT.replace(/"/g, '""')}"`);
    expect(renderReportAs(report, 'html').contentType).toBe('text/html; charset=utf-8');
    expect(statusOf(() => renderReportAs(report, 'csv', 'availability'))).toBe(404);
    expect(() => renderReportAs(report, 'csv', 'availability')).toThrow(
      /does not include availability \(it has response_times, error_rates, usage_patterns\)/,
    );
    expect(statusOf(() => renderReportAs(report, 'csv', 'error_rates', 'nope'))).toBe(400);
  });
});
