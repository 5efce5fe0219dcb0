/**
 * Dashboard 4, QT-09 Protocol: line clearance checks, transfer handshakes, segregation
 * violations and protocol errors from the ERP database, with the ERP's own counters from
 * Prometheus; when the database cannot be read, the counters alone where they exist.
 */
import { Qt09Summary } from '../../../integrations/contracts';
import { describeFailure, Verdict } from '../../health/public';
import { Base, dashboard, metric, promNumber, range, ReviewDashboard, ReviewInputs, ReviewMetric, round, unknown } from './review-metric';

function bases(input: ReviewInputs) {
  const w = range(input.window);
  const violationsQuery = `sum(increase(qt09_line_clearance_violations_total[${w}]))`;
  const failuresQuery = `sum(increase(transfer_handshake_failures_total[${w}]))`;
  const base = (metric: string, title: string, unit: string, target: string, source: string): Base => ({
    metric,
    title,
    unit,
    target,
    source,
  });
  return {
    violationsQuery,
    failuresQuery,
    clear: base(
      'line-clearance',
      'Line clearance checks',
      '%',
      'all passing (100 %), no violation',
      `ERP database: transfer_logs (is_line_clear, line_checked_at); Prometheus: ${violationsQuery}`,
    ),
    hand: base(
      'transfer-handshakes',
      'Transfer handshake success rate',
      '%',
      '100 %',
      `ERP database: transfer_logs (accepted / accepted + cancelled before acceptance); Prometheus: ${failuresQuery}`,
    ),
    seg: base(
      'segregation-violations',
      'Segregation violations',
      'violations',
      '0 recorded',
      'ERP database: alert_logs (SEGREGASI_ALARM), segregasi_acknowledgement',
    ),
    proto: base(
      'protocol-errors',
      'Protocol errors',
      'errors',
      '0 recorded',
      'ERP database: transfer_logs records that break the QT-09 state machine',
    ),
  };
}

type Bases = ReturnType<typeof bases>;

/** The ERP's counters from Prometheus (undefined where there is no series or no answer). */
interface Counters {
  violations?: number;
  failures?: number;
  details: Record<string, unknown>;
}

/** The database could not be read: the ERP's counters judge clearance and handshakes, the rest is unknown. */
function fromCountersOnly(b: Bases, c: Counters, reason: unknown): ReviewMetric[] {
  const why = `ERP database: ${describeFailure(reason).observed}`;
  const byMetric = (base: Base, value: number | undefined, what: string): ReviewMetric =>
    value === undefined
      ? unknown(base, why)
      : metric(
          { ...base, unit: what, source: base.source.replace(/^.*Prometheus: /, 'Prometheus: ') },
          Math.round(value) === 0 ? 'pass' : 'fail',
          value,
          `${Math.round(value)} ${what} in the window (ERP metric; the database could not be read: ${why})`,
        );
  return [
    byMetric(b.clear, c.violations, 'violations'),
    byMetric(b.hand, c.failures, 'failures'),
    unknown(b.seg, why),
    unknown(b.proto, why),
  ];
}

function clearanceMetric(base: Base, s: Qt09Summary, c: Counters): ReviewMetric {
  const counted = Math.round(c.violations ?? 0);
  const allViolations = s.clearanceViolations + counted;
  const clearPercent = s.lineChecks > 0 ? (s.lineClear / s.lineChecks) * 100 : null;
  const verdict: Verdict = allViolations > 0 ? 'fail' : clearPercent === null || s.lineClear === s.lineChecks ? 'pass' : 'warn';
  const observed =
    (clearPercent === null
      ? 'no line clearance checks in the window'
      : `${round(clearPercent, 2)} % passing (${s.lineClear} of ${s.lineChecks} checks; ${s.lineChecks - s.lineClear} found the line not clear and blocked the transfer)`) +
    (allViolations > 0
      ? `; ${allViolations} violation(s): ${s.clearanceViolations} transfer(s) accepted without a clear line, ${counted} counted by the ERP`
      : '');
  return metric(base, verdict, clearPercent, observed, {
    checks: s.lineChecks,
    clear: s.lineClear,
    violations: s.clearanceViolations,
    transfers: s.transfers,
    linesNow: s.lineStates,
    ...c.details,
  });
}

function handshakeMetric(base: Base, s: Qt09Summary, c: Counters): ReviewMetric {
  const finished = s.handshakesAccepted + s.handshakesCancelled;
  const percent = finished > 0 ? (s.handshakesAccepted / finished) * 100 : null;
  const failures = Math.round(c.failures ?? 0);
  const verdict: Verdict = (percent !== null && s.handshakesAccepted < finished) || failures > 0 ? 'fail' : 'pass';
  const observed =
    (percent === null
      ? 'no handshake finished in the window'
      : `${round(percent, 2)} % (${s.handshakesAccepted} accepted, ${s.handshakesCancelled} cancelled before acceptance; ${s.handshakesOpen} still open)`) +
    (failures > 0 ? `; the ERP counted ${failures} handshake failure(s)` : '');
  return metric(base, verdict, percent, observed, {
    accepted: s.handshakesAccepted,
    cancelled: s.handshakesCancelled,
    open: s.handshakesOpen,
    ...c.details,
  });
}

function segregationMetric(base: Base, s: Qt09Summary): ReviewMetric {
  return metric(
    base,
    s.segregationAlarms === 0 ? 'pass' : 'fail',
    s.segregationAlarms,
    `${s.segregationAlarms} segregation alarm(s), ${s.segregationAlarmsPending} still pending; ${s.segregationAcknowledgements} acknowledgement(s)`,
    { pending: s.segregationAlarmsPending, acknowledgements: s.segregationAcknowledgements },
  );
}

function protocolMetric(base: Base, s: Qt09Summary): ReviewMetric {
  const errors = Object.values(s.protocolErrors).reduce((a, b) => a + b, 0);
  const observed =
    errors === 0
      ? `none in ${s.transfers} transfer(s)`
      : Object.entries(s.protocolErrors)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${k}: ${n}`)
          .join(', ');
  return metric(base, errors === 0 ? 'pass' : 'fail', errors, observed, { byKind: s.protocolErrors });
}

export async function qt09Protocol(input: ReviewInputs): Promise<ReviewDashboard> {
  const b = bases(input);
  const [summary, violations, failures] = await Promise.allSettled([
    input.db.qt09Summary(input.window, { timeoutMs: input.timeoutMs }),
    promNumber(input, b.violationsQuery),
    promNumber(input, b.failuresQuery),
  ]);
  const counters: Counters = {
    violations: violations.status === 'fulfilled' ? violations.value : undefined,
    failures: failures.status === 'fulfilled' ? failures.value : undefined,
    details: {},
  };
  counters.details = {
    prometheus: {
      lineClearanceViolations: counters.violations ?? null,
      handshakeFailures: counters.failures ?? null,
      ...(violations.status === 'rejected' ? { error: describeFailure(violations.reason).observed } : {}),
    },
  };
  if (summary.status === 'rejected') return dashboard('qt09-protocol', 'QT-09 Protocol', fromCountersOnly(b, counters, summary.reason));
  const s = summary.value;
  return dashboard('qt09-protocol', 'QT-09 Protocol', [
    clearanceMetric(b.clear, s, counters),
    handshakeMetric(b.hand, s, counters),
    segregationMetric(b.seg, s),
    protocolMetric(b.proto, s),
  ]);
}
