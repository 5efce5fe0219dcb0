/**
 * The performance report as CSV (RFC 4180: comma, CRLF, fields with a comma, quote or line
 * break quoted, quotes doubled): one file per table, each section's main table per day
 * (`<section>.csv`) and its other tables beside it (`<section>-<table>.csv`), zipped whole.
 * Missing data is an empty cell with the day's `coverage` beside it, never a 0.
 * Pure functions of the stored report document.
 */
import { zipSync } from 'fflate';
import { PERFORMANCE_SECTIONS, PerformanceSection } from '../report-period';

export type ReportDocument = Record<string, any>;
type Cell = string | number | boolean | null | undefined;

export interface CsvTable {
  /** File name without .csv: the section, or section-table. */
  name: string;
  section: PerformanceSection | 'report';
  /** The table's name within its section ('days' for the main table). */
  table: string;
  header: string[];
  rows: Cell[][];
}

export function csvField(value: Cell): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: string[], rows: Cell[][]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

const gapText = (gaps: { from: string; to: string }[] | undefined) => (gaps ?? []).map((g) => `${g.from}/${g.to}`).join('; ');

/** Makes a table of the section: `days` is its main table (`<section>.csv`), others `<section>-<table>.csv`. */
type TableOf = (table: string, header: string[], rows: Cell[][]) => CsvTable;

function responseTimesTables(s: any, t: TableOf): CsvTable[] {
  return [
    t(
      'days',
      [
        'date',
        'coverage',
        'requests',
        'p50_seconds',
        'p95_seconds',
        'p99_seconds',
        'p95_target_seconds',
        'meets_target',
        'worst_hour',
        'worst_hour_p95_seconds',
        'gaps',
      ],
      (s.days ?? []).map((d: any) => [
        d.date,
        d.coverage,
        d.requests,
        d.p50Seconds,
        d.p95Seconds,
        d.p99Seconds,
        s.target?.p95Seconds,
        d.meetsTarget,
        d.worstHour?.local,
        d.worstHour?.p95Seconds,
        gapText(d.gaps),
      ]),
    ),
    t(
      'slowest_endpoints',
      ['rank', 'method', 'endpoint', 'requests', 'p50_seconds', 'p95_seconds', 'worst_day', 'worst_day_p95_seconds'],
      (s.slowestEndpoints ?? []).map((e: any, i: number) => [
        i + 1,
        e.method,
        e.endpoint,
        e.requests,
        e.p50Seconds,
        e.p95Seconds,
        e.worstDay?.date,
        e.worstDay?.p95Seconds,
      ]),
    ),
    t(
      'hours_above_target',
      ['start', 'local_hour', 'p95_seconds', 'requests'],
      (s.hoursAboveTarget ?? []).map((h: any) => [h.start, h.local, h.p95Seconds, h.requests]),
    ),
  ];
}

function errorRatesTables(s: any, t: TableOf): CsvTable[] {
  const dates: string[] = (s.days ?? []).map((d: any) => d.date);
  return [
    t(
      'days',
      [
        'date',
        'coverage',
        'requests',
        'errors_5xx',
        'error_rate_percent',
        'target_max_percent',
        'meets_target',
        'worst_hour',
        'worst_hour_rate_percent',
        'gaps',
      ],
      (s.days ?? []).map((d: any) => [
        d.date,
        d.coverage,
        d.requests,
        d.errors5xx,
        d.ratePercent,
        s.target?.maxPercent,
        d.meetsTarget,
        d.worstHour?.local,
        d.worstHour?.ratePercent,
        gapText(d.gaps),
      ]),
    ),
    t(
      'endpoints',
      ['rank', 'method', 'endpoint', 'requests', 'errors_5xx', 'error_rate_percent', 'worst_day', 'worst_day_rate_percent'],
      (s.endpoints ?? []).map((e: any, i: number) => [
        i + 1,
        e.method,
        e.endpoint,
        e.requests,
        e.errors5xx,
        e.ratePercent,
        e.worstDay?.date,
        e.worstDay?.ratePercent,
      ]),
    ),
    t(
      'error_types',
      ['error_type', 'count', ...dates],
      (s.errorTypes ?? []).map((e: any) => [
        e.errorType,
        e.count,
        ...dates.map((date) => e.days?.find((d: any) => d.date === date)?.count),
      ]),
    ),
  ];
}

function usagePatternsTables(s: any, t: TableOf): CsvTable[] {
  return [
    t(
      'days',
      ['date', 'coverage', 'requests', 'gaps'],
      (s.days ?? []).map((d: any) => [d.date, d.coverage, d.requests, gapText(d.gaps)]),
    ),
    t(
      'weekday_hour',
      ['weekday', ...Array.from({ length: 24 }, (_, h) => `h${String(h).padStart(2, '0')}`)],
      (s.weekdayHour ?? []).map((w: any) => [w.weekday, ...w.hours]),
    ),
    t(
      'top_endpoints',
      ['rank', 'method', 'endpoint', 'requests', 'share_percent'],
      (s.topEndpoints ?? []).map((e: any, i: number) => [i + 1, e.method, e.endpoint, e.requests, e.sharePercent]),
    ),
    t(
      'methods',
      ['method', 'requests', 'share_percent'],
      (s.methods ?? []).map((m: any) => [m.method, m.requests, m.sharePercent]),
    ),
  ];
}

function availabilityTables(s: any, t: TableOf): CsvTable[] {
  const backend = new Map<string, any>((s.backend?.days ?? []).map((d: any) => [d.date, d]));
  const checklist = new Map<string, any>((s.checklist?.days ?? []).map((d: any) => [d.date, d]));
  const dates = [...new Set([...backend.keys(), ...checklist.keys()])].sort();
  return [
    t(
      'days',
      ['date', 'backend_up_ratio', 'backend_scrapes', 'checklist_runs', 'checklist_passed', 'checklist_pass_rate_percent', 'gaps'],
      dates.map((date) => {
        const b = backend.get(date);
        const c = checklist.get(date);
        return [date, b?.upRatio, b?.scrapes, c?.runs, c?.passed, c?.passRatePercent, gapText(b?.gaps)];
      }),
    ),
  ];
}

function backupsTables(s: any, t: TableOf): CsvTable[] {
  return [
    t(
      'days',
      ['date', 'made', 'verified', 'failed', 'size_bytes'],
      (s.days ?? []).map((d: any) => [d.date, d.made, d.verified, d.failed, d.sizeBytes]),
    ),
    t(
      'by_kind',
      ['kind', 'count'],
      Object.entries(s.byKind ?? {}).map(([kind, n]) => [kind, n as number]),
    ),
  ];
}

function incidentsTables(s: any, t: TableOf): CsvTable[] {
  return [
    t(
      'days',
      ['date', 'P1', 'P2', 'P3', 'P4', 'total', 'response_target_met', 'response_target_missed'],
      (s.days ?? []).map((d: any) => [d.date, d.P1, d.P2, d.P3, d.P4, d.total, d.met, d.missed]),
    ),
    t(
      'by_severity',
      ['severity', 'count', 'open', 'mtta_seconds', 'mttr_seconds', 'response_target_met', 'response_target_missed', 'pending'],
      Object.entries(s.bySeverity ?? {}).map(([severity, f]: [string, any]) => [
        severity,
        f.count,
        f.open,
        f.mttaSeconds,
        f.mttrSeconds,
        f.responseTarget?.met,
        f.responseTarget?.missed,
        f.responseTarget?.pending,
      ]),
    ),
    t(
      'incidents',
      [
        'id',
        'severity',
        'component',
        'status',
        'opened_at',
        'acknowledged_at',
        'resolved_at',
        'time_to_acknowledge_seconds',
        'time_to_resolve_seconds',
        'response_target_seconds',
        'response_target',
        'title',
      ],
      (s.incidents ?? []).map((i: any) => [
        i.id,
        i.severity,
        i.component,
        i.status,
        i.openedAt,
        i.acknowledgedAt,
        i.resolvedAt,
        i.timeToAcknowledgeSeconds,
        i.timeToResolveSeconds,
        i.responseTargetSeconds,
        i.responseTarget,
        i.title,
      ]),
    ),
  ];
}

const SECTION_TABLES: Record<PerformanceSection, (s: any, t: TableOf) => CsvTable[]> = {
  response_times: responseTimesTables,
  error_rates: errorRatesTables,
  usage_patterns: usagePatternsTables,
  availability: availabilityTables,
  backups: backupsTables,
  incidents: incidentsTables,
};

/** Every table of one section, the main one (per day) first; [] when the report lacks the section. */
export function sectionTables(report: ReportDocument, section: PerformanceSection): CsvTable[] {
  const s = report.sections?.[section];
  if (!s) return [];
  const t: TableOf = (table, header, rows) => ({ name: table === 'days' ? section : `${section}-${table}`, section, table, header, rows });
  return SECTION_TABLES[section](s, t);
}

/** The report's own tables: headline numbers and targets, and the gaps in the data. */
export function reportTables(report: ReportDocument): CsvTable[] {
  const s = report.summary ?? {};
  const p = report.period ?? {};
  const rows: Cell[][] = [
    ['title', report.title],
    ['start_date', p.startDate],
    ['end_date', p.endDate],
    ['time_zone', p.timeZone],
    ['complete', p.complete],
    ['generated_at', report.generatedAt],
    ['generated_by', report.generatedBy],
    ['requests', s.requests],
    ['p95_seconds', s.p95Seconds],
    ['p95_target_seconds', report.targets?.apiP95Seconds],
    ['p95_target_met', s.p95TargetMet],
    ['error_rate_percent', s.errorRatePercent],
    ['error_rate_target_percent', report.targets?.errorRatePercent],
    ['error_rate_target_met', s.errorRateTargetMet],
    ['data_coverage', s.dataCoverage],
    ['gaps', s.gaps],
    ...(s.incidents === undefined
      ? []
      : ([
          ['incidents', s.incidents],
          ['mtta_seconds', s.mttaSeconds],
          ['mttr_seconds', s.mttrSeconds],
          ['response_targets_met', s.responseTargetsMet],
          ['response_targets_missed', s.responseTargetsMissed],
        ] as Cell[][])),
    ...((s.notes ?? []) as string[]).map((n): Cell[] => ['note', n]),
  ];
  return [
    { name: 'summary', section: 'report', table: 'summary', header: ['key', 'value'], rows },
    {
      name: 'gaps',
      section: 'report',
      table: 'gaps',
      header: ['from', 'to', 'missing_samples'],
      rows: (report.dataCoverage?.gaps ?? []).map((g: any) => [g.from, g.to, g.missingSamples]),
    },
  ];
}

export class SectionNotInReport extends Error {
  constructor(
    readonly section: string,
    readonly included: string[],
  ) {
    super(
      `this report does not include the section ${section} (it has ${included.join(', ') || 'none'}); generate a report with include: ["${section}"] to have it`,
    );
  }
}

export class UnknownTable extends Error {
  constructor(
    readonly section: string,
    readonly table: string,
    readonly allowed: string[],
  ) {
    super(`the section ${section} has no table ${table}; allowed: ${allowed.join(', ')}`);
  }
}

/** One section's table as CSV text (its per-day table unless `table` names another). */
export function renderSectionCsv(report: ReportDocument, section: PerformanceSection, table = 'days'): string {
  if (!PERFORMANCE_SECTIONS.includes(section))
    throw new RangeError(`unknown section ${String(section)}; allowed: ${PERFORMANCE_SECTIONS.join(', ')}`);
  const tables = sectionTables(report, section);
  if (!tables.length) throw new SectionNotInReport(section, Object.keys(report.sections ?? {}));
  const found = tables.find((t) => t.table === table);
  if (!found)
    throw new UnknownTable(
      section,
      table,
      tables.map((t) => t.table),
    );
  return toCsv(found.header, found.rows);
}

/** Every table of the report, one CSV file each, in a zip (deflated). */
export function renderReportCsvZip(report: ReportDocument): Buffer {
  const files: Record<string, Uint8Array> = {};
  const enc = new TextEncoder();
  const tables = [...reportTables(report), ...PERFORMANCE_SECTIONS.flatMap((s) => sectionTables(report, s))];
  const mtime = report.generatedAt ? new Date(report.generatedAt) : new Date(Date.UTC(1980, 0, 2));
  for (const t of tables) files[`${t.name}.csv`] = enc.encode(toCsv(t.header, t.rows));
  return Buffer.from(zipSync(files, { level: 6, mtime }));
}

/** performance-report-<start>_<end> (the dates only: safe in a header and a file name). */
export function reportFileStem(report: ReportDocument): string {
  const safe = (v: unknown) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : 'unknown');
  return `performance-report-${safe(report.period?.startDate)}_${safe(report.period?.endDate)}`;
}
