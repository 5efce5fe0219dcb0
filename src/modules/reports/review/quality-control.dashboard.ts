/**
 * Dashboard 5, Quality Control: metal detector status (the ERP's failure alert in
 * Prometheus, else its inspections), QC pass rate, the defect rate with its trend over
 * TREND_DAYS local days, and the QC response time, from the ERP database.
 */
import { QcSummary } from '../../../integrations/contracts';
import { describeFailure } from '../../health/public';
import {
  Base,
  dashboard,
  metric,
  promNumber,
  range,
  ReviewDashboard,
  ReviewInputs,
  ReviewMetric,
  round,
  TREND_DAYS,
  unknown,
} from './review-metric';

const MD_NOW = 'max(metal_detector_failure_alert)';

function bases(input: ReviewInputs) {
  const t = input.inventory.thresholds;
  const mdWindow = `max(max_over_time(metal_detector_failure_alert[${range(input.window)}]))`;
  const base = (metric: string, title: string, unit: string, target: string, source: string): Base => ({
    metric,
    title,
    unit,
    target,
    source,
  });
  return {
    mdWindow,
    metal: base(
      'metal-detector',
      'Metal detector status',
      '',
      'operational (no failure alert)',
      `Prometheus: ${MD_NOW}, ${mdWindow}; ERP database: qc_inspections FINAL_METAL_DETECTOR`,
    ),
    pass: base('qc-pass-rate', 'QC pass rate', '%', `>= ${t.qcPassPercentMin} %`, 'ERP database: qc_inspections (status PASS / all)'),
    defect: base(
      'defect-rate',
      `Defect rate (trend over ${TREND_DAYS} days)`,
      '%',
      'trend tracked (informational)',
      'ERP database: qc_inspections (defect_qty / inspected_qty, per local day)',
    ),
    response: base(
      'qc-response-time',
      'QC response time (p95)',
      's',
      `< ${t.qcResponseSecondsMax} s`,
      'ERP database: qc_inspections timestamps',
    ),
  };
}

/** The failure alert when Prometheus has it (now, and during the window), else the database's inspections, else unknown. */
function metalMetric(base: Base, alert: { now?: number; during?: number }, s: QcSummary | undefined, dbWhy: string): ReviewMetric {
  const md = s?.metalDetector;
  const details = md
    ? {
        inspections: md.inspections,
        contaminationsFound: md.failed,
        lastInspection: md.lastAt?.toISOString() ?? null,
        lastStatus: md.lastStatus,
      }
    : undefined;
  if (alert.now !== undefined || alert.during !== undefined) {
    const failingNow = (alert.now ?? 0) > 0;
    const failedDuring = (alert.during ?? 0) > 0;
    const observed = failingNow
      ? 'failure alert raised now (metal_detector_failure_alert = 1)'
      : failedDuring
        ? 'operational now; a failure alert was raised during the window'
        : 'operational: no failure alert in the window';
    return metric(base, failingNow ? 'fail' : failedDuring ? 'warn' : 'pass', alert.now ?? alert.during ?? null, observed, details);
  }
  if (!md) return unknown(base, `no metal_detector_failure_alert series in Prometheus, and ${dbWhy}`);
  const observed =
    md.inspections > 0
      ? `operational: ${md.inspections} inspection(s) in the window, the last at ${md.lastAt?.toISOString()}`
      : `no metal detector inspection in the window (last: ${md.lastAt?.toISOString() ?? 'never'})`;
  const source = 'ERP database: qc_inspections FINAL_METAL_DETECTOR (the ERP exports no metal_detector_failure_alert)';
  return metric({ ...base, source }, md.inspections > 0 ? 'pass' : 'warn', md.inspections, observed, details);
}

function passMetric(input: ReviewInputs, base: Base, s: QcSummary): ReviewMetric {
  if (s.inspections === 0) return unknown(base, 'no QC inspection in the window');
  const passRate = (s.passed / s.inspections) * 100;
  return metric(
    base,
    passRate >= input.inventory.thresholds.qcPassPercentMin ? 'pass' : 'fail',
    passRate,
    `${round(passRate, 2)} % (${s.passed} of ${s.inspections} inspections passed, ${s.failed} failed)`,
    { inspections: s.inspections, passed: s.passed, failed: s.failed },
  );
}

/** Least-squares slope of the daily defect percentages (percentage points per day), null below two days. */
function slopeOf(points: (readonly [number, number])[]): number | null {
  if (points.length < 2) return null;
  const mx = points.reduce((a, p) => a + p[0], 0) / points.length;
  const my = points.reduce((a, p) => a + p[1], 0) / points.length;
  const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return sxx > 0 ? points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) / sxx : 0;
}

function defectMetric(base: Base, s: QcSummary): ReviewMetric {
  const trend = s.defectTrend.map((d) => ({
    ...d,
    defectPercent: d.inspectedQty > 0 ? round((d.defectQty / d.inspectedQty) * 100, 3) : null,
  }));
  const points = trend.map((d, i) => [i, d.defectPercent] as const).filter((p): p is readonly [number, number] => p[1] !== null);
  const slope = slopeOf(points);
  const windowDefect = s.inspectedQty > 0 ? (s.defectQty / s.inspectedQty) * 100 : null;
  if (windowDefect === null && points.length === 0) return unknown(base, `no QC inspection in the last ${TREND_DAYS} days`);
  const inWindow = windowDefect === null ? 'no inspection in the window' : `${round(windowDefect, 3)} % of inspected units in the window`;
  const trendText =
    slope === null
      ? 'not computable (fewer than 2 days with inspections)'
      : `${slope > 0 ? '+' : ''}${round(slope, 3)} percentage points per day over ${TREND_DAYS} days`;
  return metric(base, 'pass', windowDefect, `${inWindow}; trend ${trendText}`, {
    perDay: trend,
    slopePointsPerDay: slope === null ? null : round(slope, 4),
  });
}

function responseMetric(input: ReviewInputs, base: Base, s: QcSummary): ReviewMetric {
  const r = s.responseTime;
  if ('note' in r) return unknown(base, r.note);
  const measured = { ...base, source: `ERP database: qc_inspections ${r.endColumn} - ${r.startColumn}` };
  if (r.p95Seconds === null) return unknown(measured, 'no inspection with both times in the window');
  return metric(
    measured,
    r.p95Seconds < input.inventory.thresholds.qcResponseSecondsMax ? 'pass' : 'fail',
    r.p95Seconds,
    `p95 ${round(r.p95Seconds, 1)} s, mean ${round(r.averageSeconds ?? 0, 1)} s over ${r.count} inspection(s)`,
  );
}

export async function qualityControl(input: ReviewInputs): Promise<ReviewDashboard> {
  const b = bases(input);
  const [qc, now, during] = await Promise.allSettled([
    input.db.qcSummary(input.window, { days: TREND_DAYS, timezone: input.inventory.timezone }, { timeoutMs: input.timeoutMs }),
    input.current ? promNumber(input, MD_NOW) : Promise.resolve(undefined),
    promNumber(input, b.mdWindow),
  ]);
  const dbWhy = qc.status === 'rejected' ? `ERP database: ${describeFailure(qc.reason).observed}` : '';
  const s = qc.status === 'fulfilled' ? qc.value : undefined;
  const alert = {
    now: now.status === 'fulfilled' ? now.value : undefined,
    during: during.status === 'fulfilled' ? during.value : undefined,
  };
  const metal = metalMetric(b.metal, alert, s, dbWhy);
  if (!s)
    return dashboard('quality-control', 'Quality Control', [
      metal,
      unknown(b.pass, dbWhy),
      unknown(b.defect, dbWhy),
      unknown(b.response, dbWhy),
    ]);
  return dashboard('quality-control', 'Quality Control', [
    metal,
    passMetric(input, b.pass, s),
    defectMetric(b.defect, s),
    responseMetric(input, b.response, s),
  ]);
}
