/**
 * The report figures read from the ERP database (QT-09 transfers, quality control), each in
 * one read-only transaction the adapter opens: plain functions of a connection, so that the
 * adapter class keeps only the connection handling.
 */
import { PoolClient } from 'pg';
import { Qt09Summary, QcSummary, TimeWindow } from '../contracts';

/** QT-09 protocol figures of a window (transfer_logs, alert_logs, line_occupancy). */
export async function readQt09Summary(client: PoolClient, window: TimeWindow): Promise<Qt09Summary> {
  const params = [window.from, window.to];
  const t = (
    await client.query<Record<string, number>>(
      `SELECT count(*)::int AS transfers,
            count(*) FILTER (WHERE line_checked_at IS NOT NULL)::int AS line_checks,
            count(*) FILTER (WHERE line_checked_at IS NOT NULL AND is_line_clear)::int AS line_clear,
            count(*) FILTER (WHERE NOT is_line_clear AND (timestamp_accept IS NOT NULL OR status IN ('ACCEPTED', 'COMPLETED')))::int AS clearance_violations,
            count(*) FILTER (WHERE timestamp_accept IS NOT NULL)::int AS accepted,
            count(*) FILTER (WHERE timestamp_accept IS NULL AND status = 'CANCELLED')::int AS cancelled,
            count(*) FILTER (WHERE timestamp_accept IS NULL AND status IN ('INITIATED', 'BLOCKED', 'LOCKED'))::int AS open,
            count(*) FILTER (WHERE status IN ('ACCEPTED', 'COMPLETED') AND timestamp_accept IS NULL)::int AS accepted_without_time,
            count(*) FILTER (WHERE status IN ('COMPLETED', 'CANCELLED') AND timestamp_end IS NULL)::int AS ended_without_time,
            count(*) FILTER (WHERE timestamp_accept < timestamp_start OR timestamp_end < timestamp_start)::int AS time_before_start,
            count(*) FILTER (WHERE qty_received > qty_sent)::int AS received_more_than_sent,
            count(*) FILTER (WHERE status NOT IN ('INITIATED', 'BLOCKED', 'LOCKED', 'ACCEPTED', 'COMPLETED', 'CANCELLED'))::int AS unknown_status
       FROM transfer_logs WHERE timestamp_start >= $1 AND timestamp_start < $2`,
      params,
    )
  ).rows[0];
  const alarms = (
    await client.query<{ n: number; pending: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE status = 'PENDING')::int AS pending
       FROM alert_logs WHERE alert_type = 'SEGREGASI_ALARM' AND created_at >= $1 AND created_at < $2`,
      params,
    )
  ).rows[0];
  const present = (
    await client.query<{ ack: boolean; lines: boolean }>(
      "SELECT to_regclass('segregasi_acknowledgement') IS NOT NULL AS ack, to_regclass('line_occupancy') IS NOT NULL AS lines",
    )
  ).rows[0];
  const acks = present.ack
    ? (
        await client.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM segregasi_acknowledgement WHERE acknowledged_at >= $1 AND acknowledged_at < $2',
          params,
        )
      ).rows[0].n
    : 0;
  const lines = present.lines
    ? (
        await client.query<{ state: string; n: number }>(
          'SELECT occupancy_status AS state, count(*)::int AS n FROM line_occupancy GROUP BY 1 ORDER BY 1',
        )
      ).rows
    : [];
  return {
    transfers: t.transfers,
    lineChecks: t.line_checks,
    lineClear: t.line_clear,
    clearanceViolations: t.clearance_violations,
    handshakesAccepted: t.accepted,
    handshakesCancelled: t.cancelled,
    handshakesOpen: t.open,
    protocolErrors: {
      acceptedWithoutAcceptTime: t.accepted_without_time,
      endedWithoutEndTime: t.ended_without_time,
      timeBeforeStart: t.time_before_start,
      receivedMoreThanSent: t.received_more_than_sent,
      unknownStatus: t.unknown_status,
    },
    segregationAlarms: alarms.n,
    segregationAlarmsPending: alarms.pending,
    segregationAcknowledgements: acks,
    lineStates: Object.fromEntries(lines.map((l) => [l.state, l.n])),
  };
}

/** Quality control figures of a window and the defect trend of `days` local days ending with it. */
export async function readQcSummary(client: PoolClient, window: TimeWindow, days: number, timezone: string): Promise<QcSummary> {
  const params = [window.from, window.to];
  const totals = (
    await client.query<Record<string, string | number>>(
      `SELECT count(*)::int AS inspections, count(*) FILTER (WHERE status = 'PASS')::int AS passed, count(*) FILTER (WHERE status = 'FAIL')::int AS failed,
              coalesce(sum(inspected_qty), 0)::text AS inspected_qty, coalesce(sum(defect_qty), 0)::text AS defect_qty,
              count(*) FILTER (WHERE type = 'FINAL_METAL_DETECTOR')::int AS md, count(*) FILTER (WHERE type = 'FINAL_METAL_DETECTOR' AND status = 'FAIL')::int AS md_failed
         FROM qc_inspections WHERE created_at >= $1 AND created_at < $2`,
      params,
    )
  ).rows[0];
  const last = (
    await client.query<{ at: Date; status: string }>(
      "SELECT created_at AS at, status FROM qc_inspections WHERE type = 'FINAL_METAL_DETECTOR' AND created_at < $1 ORDER BY created_at DESC LIMIT 1",
      [window.to],
    )
  ).rows[0];
  const trendRows = (
    await client.query<{ day: string; inspections: number; failed: number; inspected_qty: string; defect_qty: string }>(
      `WITH days AS (
         SELECT d::date AS day FROM generate_series((($1::timestamptz - interval '1 millisecond') AT TIME ZONE $2)::date - ($3::int - 1),
                                                    (($1::timestamptz - interval '1 millisecond') AT TIME ZONE $2)::date, interval '1 day') d)
       SELECT to_char(d.day, 'YYYY-MM-DD') AS day, count(q.id)::int AS inspections, count(q.id) FILTER (WHERE q.status = 'FAIL')::int AS failed,
              coalesce(sum(q.inspected_qty), 0)::text AS inspected_qty, coalesce(sum(q.defect_qty), 0)::text AS defect_qty
         FROM days d
         LEFT JOIN qc_inspections q ON q.created_at >= (d.day::timestamp AT TIME ZONE $2) AND q.created_at < ((d.day + 1)::timestamp AT TIME ZONE $2) AND q.created_at < $1
        GROUP BY d.day ORDER BY d.day`,
      [window.to, timezone, days],
    )
  ).rows;
  // A response time needs the time an item reached QC and the time it was inspected.
  const columns = (
    await client.query<{ name: string }>(
      "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'qc_inspections' AND data_type LIKE 'timestamp%' ORDER BY ordinal_position",
    )
  ).rows.map((r) => r.name);
  const starts = ['requested_at', 'arrived_at', 'received_at', 'submitted_at', 'started_at'];
  const ends = ['inspected_at', 'responded_at', 'completed_at', 'finished_at'];
  const start = starts.find((c) => columns.includes(c));
  const end = ends.find((c) => columns.includes(c));
  let responseTime: QcSummary['responseTime'];
  if (start && end) {
    // Both names come from the fixed lists above, never from input.
    const r = (
      await client.query<{ n: number; avg: number | null; p95: number | null }>(
        `SELECT count(*)::int AS n, avg(extract(epoch FROM "${end}" - "${start}"))::float8 AS avg,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM "${end}" - "${start}"))::float8 AS p95
           FROM qc_inspections WHERE created_at >= $1 AND created_at < $2 AND "${start}" IS NOT NULL AND "${end}" IS NOT NULL`,
        params,
      )
    ).rows[0];
    responseTime = { startColumn: start, endColumn: end, count: r.n, averageSeconds: r.avg, p95Seconds: r.p95 };
  } else {
    responseTime = {
      note: `qc_inspections records no time an item reached QC and no time of its inspection to measure between (its times: ${columns.join(', ') || 'none'}; looked for one of ${starts.join(', ')} and one of ${ends.join(', ')})`,
    };
  }
  return {
    inspections: Number(totals.inspections),
    passed: Number(totals.passed),
    failed: Number(totals.failed),
    inspectedQty: Number(totals.inspected_qty),
    defectQty: Number(totals.defect_qty),
    metalDetector: {
      inspections: Number(totals.md),
      failed: Number(totals.md_failed),
      lastAt: last ? new Date(last.at) : null,
      lastStatus: last?.status ?? null,
    },
    defectTrend: trendRows.map((r) => ({
      day: r.day,
      inspections: r.inspections,
      failed: r.failed,
      inspectedQty: Number(r.inspected_qty),
      defectQty: Number(r.defect_qty),
    })),
    responseTime,
  };
}
