import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/errors';
import { decodeCursor, encodeCursor, Page, pageSize } from '../../common/pagination';
import { Identity } from '../../common/request-context';
import { maskUrl } from '../../common/secrets';
import { INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { PrometheusPort } from '../../integrations/contracts';
import { IntegrationError } from '../../integrations/integration-error';
import { PROMETHEUS } from '../../integrations/integrations.module';
import { buildPrometheusSections, PrometheusSections } from './performance-report.builder';
import { PerformanceReportEntity, ReportKind } from './performance-report.entity';
import { PromQueryRunner } from './prom-query-runner';
import { round } from './report-math';
import {
  buildPeriod,
  DATABASE_SECTIONS,
  PerformanceRequest,
  PerformanceSection,
  ReportPeriod,
  validatePerformanceRequest,
} from './report-period';
import { buildIncidentsSection, IncidentReportRow } from './sections/incidents.section';

/** The targets the report judges against: the fail thresholds of the inventory. */
type ReportThresholds = { apiP95Seconds: number; errorRatePercent: number };

export const REPORT_SCHEMA_VERSION = 1;
/** Data is read up to this long before now: the newest scrape may not be in yet. */
const SCRAPE_LAG_MS = 60_000;

export interface ReportSummaryItem {
  id: string;
  startDate: string;
  endDate: string;
  timeZone: string;
  include: string[];
  generatedAt: string;
  generatedBy: string;
  durationMs: number;
  summary: Record<string, unknown>;
}

/** Performance reports: generated from Prometheus and the control plane's own tables, stored whole. */
@Injectable()
export class PerformanceReportService {
  constructor(
    @InjectRepository(PerformanceReportEntity) private readonly reports: Repository<PerformanceReportEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(PROMETHEUS) private readonly prometheus: PrometheusPort,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    private readonly clock: Clock,
  ) {}

  /** Validates, computes and stores a report; bad input is a 400 that stores nothing. */
  async generate(body: PerformanceRequest, identity: Identity, kind: ReportKind = 'performance'): Promise<Record<string, unknown>> {
    const started = Date.now();
    const now = this.clock.now().getTime();
    const timeZone = this.inventory.timezone;
    const { value, problems } = validatePerformanceRequest(body, timeZone, now);
    if (!value) throw DomainError.validation(problems);
    const period = buildPeriod(value.startDate, value.endDate, timeZone, now - SCRAPE_LAG_MS);
    const include = value.include;
    const thresholds = {
      apiP95Seconds: this.inventory.thresholds.apiP95Seconds.fail,
      errorRatePercent: this.inventory.thresholds.errorRatePercent.fail,
    };
    // The control plane's own tables are read while Prometheus answers (a failure there is
    // awaited below, not left unhandled meanwhile).
    const early = <T>(read: () => Promise<T>) => {
      const pending = read();
      pending.catch(() => undefined);
      return pending;
    };
    const checklistP = include.includes('availability') ? early(() => this.checklistAvailability(period)) : null;
    const backupsP = include.includes('backups') ? early(() => this.backupSummary(period)) : null;
    const incidentsP = include.includes('incidents') ? early(() => this.incidentsSection(period, now)) : null;
    const needsProm = include.some((s) => !DATABASE_SECTIONS.includes(s));
    const prom = needsProm ? await this.prometheusSections(period, include, thresholds) : null;
    const sections: Partial<Record<PerformanceSection, unknown>> = {};
    for (const name of include) {
      if (name === 'availability') sections.availability = { ...(prom?.sections.availability as object), checklist: await checklistP };
      else if (name === 'backups') sections.backups = await backupsP;
      else if (name === 'incidents') sections.incidents = await incidentsP;
      else sections[name] = prom?.sections[name];
    }
    const id = randomUUID();
    const generatedAt = new Date(now);
    const report = this.document({ id, kind, period, include, thresholds, prom, sections, generatedAt, generatedBy: identity.username });
    report.durationMs = Date.now() - started;
    await this.reports.insert({
      id,
      kind,
      startDate: period.startDate,
      endDate: period.endDate,
      timeZone,
      sections: include,
      generatedAt,
      generatedBy: identity.username,
      durationMs: report.durationMs as number,
      report: report as never,
    });
    return report;
  }

  /** Runs the Prometheus queries; a Prometheus failure is a 503 naming it (nothing stored). */
  private async prometheusSections(
    period: ReportPeriod,
    include: PerformanceSection[],
    thresholds: ReportThresholds,
  ): Promise<PrometheusSections> {
    const runner = new PromQueryRunner(this.prometheus, { concurrency: 4, timeoutMs: 25_000 });
    try {
      return await buildPrometheusSections({ period, include, runner, thresholds, upSelector: this.upSelector() });
    } catch (error) {
      if (error instanceof IntegrationError) {
        throw new DependencyError(
          `The performance report needs Prometheus, which failed: ${error.message}. Nothing was stored; try again when Prometheus answers (GET /-/ready).`,
          error.system,
        );
      }
      throw error;
    }
  }

  /** The stored report document (durationMs is set once it is complete). */
  private document(parts: {
    id: string;
    kind: ReportKind;
    period: ReportPeriod;
    include: PerformanceSection[];
    thresholds: ReportThresholds;
    prom: PrometheusSections | null;
    sections: Partial<Record<PerformanceSection, unknown>>;
    generatedAt: Date;
    generatedBy: string;
  }): Record<string, unknown> {
    const { id, kind, period, include, thresholds, prom, sections, generatedAt, generatedBy } = parts;
    const timeZone = period.timeZone;
    return {
      id,
      kind,
      schemaVersion: REPORT_SCHEMA_VERSION,
      title: `ERP performance report ${period.startDate} to ${period.endDate} (${timeZone})`,
      generatedAt: generatedAt.toISOString(),
      generatedBy,
      durationMs: 0,
      period: {
        startDate: period.startDate,
        endDate: period.endDate,
        timeZone,
        start: new Date(period.start).toISOString(),
        end: new Date(period.end).toISOString(),
        evaluatedUntil: prom?.source.evaluatedUntil ?? new Date(period.until).toISOString(),
        days: period.days.length,
        complete: period.until >= period.end,
      },
      include,
      targets: thresholds,
      source: prom
        ? { prometheus: maskUrl(this.inventory.urls.prometheus), ...prom.source, queries: prom.queries }
        : { database: "the control plane's own tables" },
      dataCoverage: prom ? prom.coverage : null,
      summary: summarize(sections, prom),
      sections,
    };
  }

  async get(id: string): Promise<Record<string, unknown>> {
    const row = await this.reports.findOne({ where: { id } });
    if (!row) throw DomainError.notFound('performance report', id);
    return row.report;
  }

  /** Newest first, without the report bodies (GET one for the whole document). */
  async list(filter: { limit?: number; cursor?: string }): Promise<Page<ReportSummaryItem>> {
    const size = pageSize(filter.limit);
    const qb = this.reports
      .createQueryBuilder('r')
      .select(['r.id', 'r.startDate', 'r.endDate', 'r.timeZone', 'r.sections', 'r.generatedAt', 'r.generatedBy', 'r.durationMs'])
      .addSelect("r.report -> 'summary'", 'summary')
      .orderBy('r.generatedAt', 'DESC')
      .addOrderBy('r.id', 'DESC')
      .limit(size + 1);
    const after = decodeCursor(filter.cursor, ['date', 'uuid']);
    if (after) qb.andWhere('(r.generated_at, r.id) < (:at, :id)', { at: new Date(after[0]), id: after[1] });
    const { entities, raw } = await qb.getRawAndEntities();
    const summaries = new Map<string, Record<string, unknown>>(
      raw.map((r: Record<string, unknown>) => [String(r.r_id), (r.summary ?? {}) as Record<string, unknown>]),
    );
    const page = entities.slice(0, size);
    const last = page[page.length - 1];
    return {
      items: page.map((e) => ({
        id: e.id,
        startDate: e.startDate,
        endDate: e.endDate,
        timeZone: e.timeZone,
        include: e.sections,
        generatedAt: e.generatedAt.toISOString(),
        generatedBy: e.generatedBy,
        durationMs: e.durationMs,
        summary: summaries.get(e.id) ?? {},
      })),
      nextCursor: entities.length > size && last ? encodeCursor([last.generatedAt.toISOString(), last.id]) : null,
    };
  }

  /** When the newest report of a kind was generated (for /metrics). */
  async lastGeneratedAt(kind: ReportKind): Promise<Date | null> {
    const rows = await this.dataSource.query('SELECT max(generated_at) AS at FROM performance_reports WHERE kind = $1', [kind]);
    return rows[0]?.at ? new Date(rows[0].at) : null;
  }

  /** The backend's scrape target as Prometheus labels it by default: host:port of the backend URL. */
  private upSelector(): string {
    const url = new URL(this.inventory.urls.backend);
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    return `instance="${url.hostname}:${port}"`;
  }

  private async checklistAvailability(period: ReportPeriod) {
    const rows: { day: string; verdict: string; n: string }[] = await this.dataSource.query(
      `SELECT to_char(started_at AT TIME ZONE $3, 'YYYY-MM-DD') AS day, verdict, count(*) AS n
         FROM checklist_runs WHERE kind = 'checklist' AND started_at >= $1 AND started_at < $2 GROUP BY 1, 2`,
      [new Date(period.start), new Date(period.end), period.timeZone],
    );
    const byVerdict: Record<string, number> = { pass: 0, warn: 0, fail: 0, unknown: 0 };
    const days = new Map(period.days.map((d) => [d.date, { date: d.date, runs: 0, passed: 0 }]));
    for (const r of rows) {
      const n = Number(r.n);
      byVerdict[r.verdict] = (byVerdict[r.verdict] ?? 0) + n;
      const day = days.get(r.day);
      if (day) {
        day.runs += n;
        if (r.verdict === 'pass') day.passed += n;
      }
    }
    const runs = Object.values(byVerdict).reduce((a, b) => a + b, 0);
    return {
      computedFrom: "checklist_runs (the daily startup checklist's stored runs, manual and scheduled)",
      runs,
      passed: byVerdict.pass,
      passRatePercent: runs ? round((byVerdict.pass / runs) * 100, 2) : null,
      byVerdict,
      daysWithoutRun: [...days.values()]
        .filter((d) => d.runs === 0 && period.days.find((p) => p.date === d.date)!.start < period.until)
        .map((d) => d.date),
      days: [...days.values()].map((d) => ({ ...d, passRatePercent: d.runs ? round((d.passed / d.runs) * 100, 2) : null })),
    };
  }

  /** The incidents opened in the period (judged against their response targets at `now`). */
  private async incidentsSection(period: ReportPeriod, now: number) {
    const rows: IncidentReportRow[] = await this.dataSource.query(
      `SELECT id, title, severity, component, status, source, created_at, first_acknowledged_at, resolved_at, resolved_by,
              (policy -> 'steps' -> 0 ->> 'waitSeconds')::int AS target_seconds
         FROM incidents WHERE created_at >= $1 AND created_at < $2 ORDER BY created_at, id`,
      [new Date(period.start), new Date(period.end)],
    );
    return buildIncidentsSection(rows, period, now);
  }

  private async backupSummary(period: ReportPeriod) {
    const rows: { day: string; kind: string; verify_status: string; deleted: boolean; size_bytes: string }[] = await this.dataSource.query(
      `SELECT to_char(created_at AT TIME ZONE $3, 'YYYY-MM-DD') AS day, kind, verify_status, deleted_at IS NOT NULL AS deleted, size_bytes
         FROM backups WHERE created_at >= $1 AND created_at < $2`,
      [new Date(period.start), new Date(period.end), period.timeZone],
    );
    const sizes = rows.map((r) => Number(r.size_bytes));
    const total = sizes.reduce((a, b) => a + b, 0);
    const days = new Map(period.days.map((d) => [d.date, { date: d.date, made: 0, verified: 0, failed: 0, sizeBytes: 0 }]));
    const byKind: Record<string, number> = {};
    for (const r of rows) {
      byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
      const day = days.get(r.day);
      if (!day) continue;
      day.made++;
      day.sizeBytes += Number(r.size_bytes);
      if (r.verify_status === 'verified') day.verified++;
      if (r.verify_status === 'failed') day.failed++;
    }
    return {
      computedFrom: "backups (the control plane's backup catalog, deleted entries included)",
      made: rows.length,
      verified: rows.filter((r) => r.verify_status === 'verified').length,
      failed: rows.filter((r) => r.verify_status === 'failed').length,
      unverified: rows.filter((r) => r.verify_status === 'unverified').length,
      deleted: rows.filter((r) => r.deleted).length,
      byKind,
      sizeBytes: {
        total,
        average: rows.length ? Math.round(total / rows.length) : null,
        smallest: rows.length ? Math.min(...sizes) : null,
        largest: rows.length ? Math.max(...sizes) : null,
      },
      daysWithoutBackup: [...days.values()]
        .filter((d) => d.made === 0 && period.days.find((p) => p.date === d.date)!.start < period.until)
        .map((d) => d.date),
      days: [...days.values()],
    };
  }
}

class DependencyError extends DomainError {
  constructor(message: string, system: string) {
    super(ErrorCode.DependencyUnavailable, message, { system });
  }
}

/** The headline numbers, and what limits them. */
function summarize(sections: Partial<Record<PerformanceSection, any>>, prom: PrometheusSections | null): Record<string, unknown> {
  const notes: string[] = [];
  if (prom) {
    const missing = prom.coverage.days.filter((d) => d.coverage === 0).map((d) => d.date);
    const partial = prom.coverage.days
      .filter((d) => d.coverage !== null && d.coverage > 0 && d.coverage < 0.99)
      .map((d) => `${d.date} (${Math.round(d.coverage! * 100)} %)`);
    if (missing.length) notes.push(`No metrics at all for ${missing.join(', ')}: those days are left out, not counted as zero.`);
    if (partial.length) notes.push(`Metrics are incomplete for ${partial.join(', ')}: values come from the samples present.`);
    if (prom.coverage.gaps.length) notes.push(`${prom.coverage.gaps.length} gap(s) in the data (see dataCoverage.gaps).`);
  }
  const rt = sections.response_times;
  const er = sections.error_rates;
  const us = sections.usage_patterns;
  const inc = sections.incidents;
  return {
    requests: us?.totalRequests ?? er?.overall.requests ?? null,
    p95Seconds: rt?.overall.p95Seconds ?? null,
    p95TargetMet: rt?.target.met ?? null,
    errorRatePercent: er?.overall.ratePercent ?? null,
    errorRateTargetMet: er?.target.met ?? null,
    dataCoverage: prom?.coverage.ratio ?? null,
    gaps: prom?.coverage.gaps.length ?? null,
    ...(inc
      ? {
          incidents: inc.count,
          mttaSeconds: inc.mttaSeconds,
          mttrSeconds: inc.mttrSeconds,
          responseTargetsMet: inc.responseTarget.met,
          responseTargetsMissed: inc.responseTarget.missed,
        }
      : {}),
    notes,
  };
}
