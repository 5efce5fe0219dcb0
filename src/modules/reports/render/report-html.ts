/**
 * The performance report as one self-contained HTML page (it is mailed): inline CSS, no
 * script, no external font or image; the charts inline as SVG, or as PNG attachments
 * referenced by cid: for mail clients that do not show inline SVG. Every string from the
 * report (endpoint names come from metrics labels) is escaped. Pure function.
 */
import { PERFORMANCE_SECTIONS } from '../report-period';
import { renderReportCharts, ReportChart, svgToPng } from './report-charts';
import { CsvTable, ReportDocument, sectionTables } from './report-csv';

export interface ReportImage {
  cid: string;
  filename: string;
  contentType: 'image/png';
  content: Buffer;
  width: number;
  height: number;
}

export interface RenderHtmlOptions {
  /** inline-svg (default): the charts inside the page; cid: <img src="cid:…"> and PNG images to attach. */
  images?: 'inline-svg' | 'cid';
}

export interface RenderedHtml {
  html: string;
  images: ReportImage[];
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const SECTION_TITLES: Record<string, string> = {
  response_times: 'Response times',
  error_rates: 'Error rates',
  usage_patterns: 'Usage patterns',
  availability: 'Availability',
  backups: 'Backups',
  incidents: 'Incidents',
};

const TABLE_TITLES: Record<string, string> = {
  days: 'Per day',
  slowest_endpoints: 'Slowest endpoints (top 10, by p95)',
  hours_above_target: 'Hours above the p95 target',
  endpoints: 'Endpoints by error rate (top 10)',
  error_types: 'Error types (per day)',
  weekday_hour: 'Requests by weekday and hour',
  top_endpoints: 'Top endpoints by requests (top 10)',
  methods: 'HTTP methods',
  by_kind: 'Backups by kind',
  by_severity: 'By severity (MTTA, MTTR, response targets)',
  incidents: 'Incidents and their response-time target',
};

const CSS = `
body{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;color:#1d2733;margin:0;padding:24px;background:#ffffff;font-size:14px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #dfe6ee;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.meta{color:#5b6b7c;margin:0 0 16px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:12px}
th,td{border:1px solid #d5dde6;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f1f5f9}td.text,th.text{text-align:left}
tr.gap td{background:#fdf3e1}
td.empty{color:#9aa7b4}
.verdict{font-weight:bold;padding:1px 6px;border-radius:3px}
.pass{background:#dcf2e3;color:#1d6b39}.fail{background:#f8dcda;color:#9b2520}.unknown{background:#eceff3;color:#5b6b7c}
.notes{background:#fdf3e1;border-left:4px solid #e08a1e;padding:8px 12px;margin:12px 0}
figure{margin:12px 0}figcaption{color:#5b6b7c;font-size:12px}
`;

function verdict(met: unknown): string {
  if (met === true) return '<span class="verdict pass">met</span>';
  if (met === false) return '<span class="verdict fail">missed</span>';
  return '<span class="verdict unknown">no data</span>';
}

const fmt = (v: unknown, unit = ''): string =>
  v === null || v === undefined ? '<span class="empty">no data</span>' : `${escapeHtml(v)}${unit}`;

function htmlTable(t: CsvTable): string {
  const coverageAt = t.header.indexOf('coverage');
  const isText = (v: unknown) => typeof v === 'string' && !/^-?\d+(\.\d+)?$/.test(v);
  const head = `<tr>${t.header.map((h) => `<th class="text">${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = t.rows
    .map((r) => {
      const gap = coverageAt >= 0 && (r[coverageAt] === 0 || r[coverageAt] === null);
      const cells = r
        .map((v) =>
          v === null || v === undefined || v === ''
            ? '<td class="empty"></td>'
            : `<td${isText(v) ? ' class="text"' : ''}>${escapeHtml(v)}</td>`,
        )
        .join('');
      return `<tr${gap ? ' class="gap"' : ''}>${cells}</tr>`;
    })
    .join('\n');
  if (!t.rows.length) return `<p class="meta">(none)</p>`;
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

function figure(chart: ReportChart, mode: 'inline-svg' | 'cid', cid: string): string {
  const body =
    mode === 'cid'
      ? `<img src="cid:${escapeHtml(cid)}" width="${chart.width}" height="${chart.height}" alt="${escapeHtml(chart.title)}: ${escapeHtml(chart.description)}">`
      : chart.svg;
  return `<figure data-chart="${escapeHtml(chart.id)}">\n${body}\n<figcaption>${escapeHtml(chart.title)}: ${escapeHtml(chart.description)}</figcaption>\n</figure>`;
}

/** The incidents' headline rows, when the report has the section. */
function incidentRows(s: Record<string, any>): string {
  if (s.incidents === undefined) return '';
  const judged = (s.responseTargetsMet ?? 0) + (s.responseTargetsMissed ?? 0);
  return `<tr><td class="text">incidents</td><td>${fmt(s.incidents)}</td><td></td><td></td></tr>
<tr><td class="text">MTTA (mean time to acknowledge)</td><td>${fmt(s.mttaSeconds, ' s')}</td><td></td><td></td></tr>
<tr><td class="text">MTTR (mean time to resolve)</td><td>${fmt(s.mttrSeconds, ' s')}</td><td></td><td></td></tr>
<tr><td class="text">response-time targets missed</td><td>${fmt(s.responseTargetsMissed)} of ${escapeHtml(judged)}</td><td>0</td><td class="text">${verdict(judged ? s.responseTargetsMissed === 0 : null)}</td></tr>
`;
}

/** The title line and the summary table: headline numbers against their targets. */
function summaryHtml(report: ReportDocument): string[] {
  const p = report.period ?? {};
  const s = report.summary ?? {};
  const targets = report.targets ?? {};
  const covered = s.dataCoverage === null || s.dataCoverage === undefined ? null : Number(s.dataCoverage);
  return [
    `<h1>${escapeHtml(report.title ?? 'ERP performance report')}</h1>`,
    `<p class="meta">${escapeHtml(p.startDate)} to ${escapeHtml(p.endDate)} (${escapeHtml(p.timeZone)})${p.complete === false ? ', <strong>period not over yet</strong>' : ''} · generated ${escapeHtml(report.generatedAt)} by ${escapeHtml(report.generatedBy)}</p>`,
    '<h2>Summary</h2>',
    `<table>
<thead><tr><th class="text">measure</th><th>value</th><th>target</th><th class="text">verdict</th></tr></thead>
<tbody>
<tr><td class="text">requests</td><td>${fmt(s.requests)}</td><td></td><td></td></tr>
<tr><td class="text">p95 response time</td><td>${fmt(s.p95Seconds, ' s')}</td><td>&lt; ${escapeHtml(targets.apiP95Seconds)} s</td><td class="text">${verdict(s.p95TargetMet)}</td></tr>
<tr><td class="text">error rate (5xx)</td><td>${fmt(s.errorRatePercent, ' %')}</td><td>&lt; ${escapeHtml(targets.errorRatePercent)} %</td><td class="text">${verdict(s.errorRateTargetMet)}</td></tr>
${incidentRows(s)}<tr><td class="text">data coverage</td><td>${covered === null ? fmt(null) : `${escapeHtml(Math.round(covered * 1000) / 10)} %`}</td><td>100 %</td><td class="text">${covered === null ? verdict(null) : verdict(covered >= 0.99)}</td></tr>
</tbody>
</table>`,
  ];
}

/** The notes and gaps in the data, and the coverage per day. */
function coverageHtml(report: ReportDocument): string[] {
  const coverage = report.dataCoverage;
  const notes: string[] = report.summary?.notes ?? [];
  const gaps: any[] = coverage?.gaps ?? [];
  const parts: string[] = [];
  if (notes.length || gaps.length) {
    parts.push(`<div class="notes"><strong>Gaps in the data</strong>: days or hours without metrics are left out of the numbers, not counted as zero.<ul>
${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('\n')}
${gaps
  .slice(0, 20)
  .map((g) => `<li>no data from ${escapeHtml(g.from)} to ${escapeHtml(g.to)} (${escapeHtml(g.missingSamples)} samples missing)</li>`)
  .join('\n')}${gaps.length > 20 ? `\n<li>… and ${gaps.length - 20} more</li>` : ''}
</ul></div>`);
  }
  if (coverage?.days?.length) {
    parts.push('<h3>Data coverage per day</h3>');
    parts.push(
      htmlTable({
        name: 'coverage',
        section: 'report',
        table: 'coverage',
        header: ['date', 'coverage'],
        rows: coverage.days.map((d: any) => [d.date, d.coverage]),
      }),
    );
  }
  return parts;
}

/** The charts shown at the top of each section. */
const CHARTS_OF: Record<string, string[]> = {
  response_times: ['latency'],
  error_rates: ['error_rate'],
  usage_patterns: ['weekday_hour', 'top_endpoints'],
};

/** Each section present: its title, its charts, then its tables. */
function sectionsHtml(report: ReportDocument, chartFor: (id: string) => string): string[] {
  const parts: string[] = [];
  for (const section of PERFORMANCE_SECTIONS) {
    const tables = sectionTables(report, section);
    if (!tables.length) continue;
    parts.push(`<h2>${escapeHtml(SECTION_TITLES[section])}</h2>`);
    for (const id of CHARTS_OF[section] ?? []) parts.push(chartFor(id));
    for (const t of tables) {
      parts.push(`<h3>${escapeHtml(TABLE_TITLES[t.table] ?? t.table)}</h3>`);
      parts.push(htmlTable(t));
    }
  }
  return parts;
}

/** The whole page, and (mode cid) the PNG images it references. */
export function renderReportHtml(report: ReportDocument, options: RenderHtmlOptions = {}): RenderedHtml {
  const mode = options.images ?? 'inline-svg';
  const charts = renderReportCharts(report);
  const cidOf = (c: ReportChart) => `${c.id}@performance-report`;
  const images: ReportImage[] =
    mode === 'cid'
      ? charts.map((c) => ({
          cid: cidOf(c),
          filename: `${c.id}.png`,
          contentType: 'image/png' as const,
          content: svgToPng(c.svg, c.width),
          width: c.width * 2,
          height: c.height * 2,
        }))
      : [];
  const chartFor = (id: string) =>
    charts
      .filter((c) => c.id === id)
      .map((c) => figure(c, mode, cidOf(c)))
      .join('\n');
  const parts = [...summaryHtml(report), ...coverageHtml(report), ...sectionsHtml(report, chartFor)];
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(report.title ?? 'ERP performance report')}</title>
<style>${CSS}</style>
</head>
<body>
${parts.join('\n')}
</body>
</html>
`;
  return { html, images };
}
