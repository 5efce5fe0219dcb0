/**
 * Which representation of a performance report a request asks for: `?format=` (json, csv,
 * html) wins over `Accept`; `?section=` asks for one section's CSV table. Then the rendering
 * itself, as a body with its headers. Pure functions; errors are domain errors (400, 404, 406).
 */
import { DomainError, ErrorCode } from '../../../common/errors';
import { PERFORMANCE_SECTIONS, PerformanceSection } from '../report-period';
import { renderReportCsvZip, renderSectionCsv, ReportDocument, reportFileStem, sectionTables } from './report-csv';
import { renderReportHtml } from './report-html';

export const REPORT_FORMATS = ['json', 'csv', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
/** What is sent: the JSON document, the HTML page, all CSV tables zipped, or one CSV table. */
export type ReportRepresentation = 'json' | 'html' | 'zip' | 'csv';

export const MEDIA_TYPES: Record<ReportRepresentation, string> = {
  json: 'application/json',
  html: 'text/html',
  zip: 'application/zip',
  csv: 'text/csv',
};

/** The query parameters as sent (a repeated parameter is an array: refused). */
export interface FormatRequest {
  format?: unknown;
  section?: unknown;
  table?: unknown;
  accept?: string;
}

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

export function parseAccept(accept: string): MediaRange[] {
  return accept
    .split(',')
    .map((part, index) => {
      const [range, ...params] = part.trim().split(';');
      const [type = '', subtype = ''] = range.trim().toLowerCase().split('/');
      let q = 1;
      for (const p of params) {
        const [k, v] = p.trim().split('=');
        if (k?.trim().toLowerCase() === 'q') q = Number(v);
      }
      return { type, subtype, q: Number.isFinite(q) ? q : 0, index };
    })
    .filter((r) => r.type && r.subtype && r.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
}

function supported(section: string | undefined): string {
  return section
    ? "text/csv (one section's table), or ?format=csv"
    : 'application/json, text/html, application/zip (every CSV table), text/csv with ?section=; or ?format=json|csv|html';
}

/** The representation to send; 400 for a bad parameter, 406 when Accept allows none of them. */
export function negotiateReportFormat(request: FormatRequest): ReportRepresentation {
  const { accept } = request;
  const problems: { field: string; problem: string }[] = [];
  const format = request.format as string | undefined;
  const section = request.section as string | undefined;
  if (format !== undefined && !(REPORT_FORMATS as readonly unknown[]).includes(format))
    problems.push({ field: 'format', problem: `must be one of ${REPORT_FORMATS.join(', ')}` });
  if (section !== undefined && !(PERFORMANCE_SECTIONS as readonly unknown[]).includes(section))
    problems.push({ field: 'section', problem: `must be one of ${PERFORMANCE_SECTIONS.join(', ')}` });
  if (section !== undefined && format !== undefined && format !== 'csv')
    problems.push({ field: 'section', problem: "applies to format=csv only (one section's CSV table)" });
  if (request.table !== undefined && (section === undefined || typeof request.table !== 'string'))
    problems.push({ field: 'table', problem: 'needs section (the table of which section), once' });
  if (problems.length) throw DomainError.validation(problems);
  if (format === 'json') return 'json';
  if (format === 'html') return 'html';
  if (format === 'csv') return section ? 'csv' : 'zip';
  const offers: ReportRepresentation[] = section ? ['csv'] : ['json', 'html', 'zip'];
  if (!accept || !accept.trim()) return offers[0];
  for (const range of parseAccept(accept)) {
    const match = offers.find((o) => {
      const [type, subtype] = MEDIA_TYPES[o].split('/');
      return (range.type === '*' && range.subtype === '*') || (range.type === type && (range.subtype === '*' || range.subtype === subtype));
    });
    if (match) return match;
  }
  const hint =
    !section && /text\/csv/i.test(accept)
      ? " text/csv is one section's table: add ?section=, or accept application/zip for every table."
      : '';
  throw new DomainError(
    ErrorCode.NotAcceptable,
    `Accept: ${accept.slice(0, 200)} allows none of the report's formats; supported: ${supported(section)}.${hint}`,
    { supported: section ? ['text/csv'] : ['application/json', 'text/html', 'application/zip', 'text/csv'] },
  );
}

export interface RenderedReport {
  contentType: string;
  disposition?: string;
  body: string | Buffer | ReportDocument;
}

/** The report in the representation chosen; 404 when it asks for a section the report lacks. */
export function renderReportAs(report: ReportDocument, as: ReportRepresentation, section?: string, table?: string): RenderedReport {
  const stem = reportFileStem(report);
  switch (as) {
    case 'json':
      return { contentType: 'application/json; charset=utf-8', body: report };
    case 'html':
      return { contentType: 'text/html; charset=utf-8', body: renderReportHtml(report, { images: 'inline-svg' }).html };
    case 'zip':
      return { contentType: 'application/zip', disposition: `attachment; filename="${stem}.zip"`, body: renderReportCsvZip(report) };
    case 'csv': {
      const name = section as PerformanceSection;
      const tables = sectionTables(report, name);
      const included = Object.keys(report.sections ?? {});
      if (!tables.length) {
        throw new DomainError(
          ErrorCode.NotFound,
          `section: the report ${String(report.id)} does not include ${name} (it has ${included.join(', ')}); generate a report with include: ["${name}"]`,
          { section: name, included },
        );
      }
      const wanted = table ?? 'days';
      if (!tables.some((t) => t.table === wanted)) {
        throw DomainError.validation([
          { field: 'table', problem: `must be one of ${tables.map((t) => t.table).join(', ')} (the tables of ${name})` },
        ]);
      }
      const suffix = wanted === 'days' ? name : `${name}-${wanted}`;
      return {
        contentType: 'text/csv; charset=utf-8',
        disposition: `attachment; filename="${stem}-${suffix}.csv"`,
        body: renderSectionCsv(report, name, wanted),
      };
    }
  }
}
