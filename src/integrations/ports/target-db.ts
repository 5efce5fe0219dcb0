/** The port of target-db/ (pg): the ERP database. */
import { CallOptions } from '../integration-error';

export interface ConnectionCounts {
  total: number;
  max: number;
  byDatabase: { database: string; count: number }[];
}

export interface DbSession {
  pid: number;
  user: string | null;
  application: string;
  clientAddr: string | null;
  state: string | null;
  /** Seconds since the session's state last changed (how long it has been idle). */
  stateSeconds: number;
  backendType: string;
  query: string;
}

export interface SlowQueries {
  source: 'v_slow_queries' | 'pg_stat_statements' | 'none';
  /** Why there is nothing to read (the extension missing or not preloaded). */
  note?: string;
  queries: { query: string; calls: number; meanMs: number; totalMs: number }[];
}

/** pg_stat_database of the connected database: counters cumulative since `statsSince`. */
export interface DatabaseActivity {
  blocksHit: number;
  blocksRead: number;
  commits: number;
  rollbacks: number;
  /** stats_reset, else the server's start (pg_postmaster_start_time): when the counters began. */
  statsSince: Date;
  /** The server's now() at the reading. */
  at: Date;
}

/** A half-open time range [from, to). */
export interface TimeWindow {
  from: Date;
  to: Date;
}

/** QT-09 transfers (transfer_logs started in the window), alarms (alert_logs) and lines (line_occupancy, now). */
export interface Qt09Summary {
  transfers: number;
  /** Transfers whose line clearance was checked (line_checked_at set), and of them found clear. */
  lineChecks: number;
  lineClear: number;
  /** Not line-clear, yet accepted or completed: the protocol was bypassed. */
  clearanceViolations: number;
  /** Handshakes the receiver accepted (timestamp_accept set), cancelled before acceptance, still open. */
  handshakesAccepted: number;
  handshakesCancelled: number;
  handshakesOpen: number;
  /** Records that break the protocol's state machine, by kind. */
  protocolErrors: Record<string, number>;
  segregationAlarms: number;
  segregationAlarmsPending: number;
  segregationAcknowledgements: number;
  /** line_occupancy now: lines per occupancy_status. */
  lineStates: Record<string, number>;
}

export interface QcSummary {
  inspections: number;
  passed: number;
  failed: number;
  inspectedQty: number;
  defectQty: number;
  metalDetector: { inspections: number; failed: number; lastAt: Date | null; lastStatus: string | null };
  /** Per local day (oldest first), every day of the trend range, empty days included. */
  defectTrend: { day: string; inspections: number; failed: number; inspectedQty: number; defectQty: number }[];
  /** Seconds from an item's arrival at QC to its inspection, when qc_inspections has both times; else why not. */
  responseTime:
    { startColumn: string; endColumn: string; count: number; averageSeconds: number | null; p95Seconds: number | null } | { note: string };
}

export interface TargetDatabasePort {
  /** pg_isready equivalent: connects and runs SELECT 1; returns the server version. */
  ping(options: CallOptions): Promise<{ serverVersion: string; latencyMs: number }>;
  /** Tables of the public schema (like \dt). */
  listTables(options: CallOptions): Promise<string[]>;
  /** SELECT count(*) FROM <table>; the table name is validated, never interpolated raw. */
  countRows(table: string, options: CallOptions): Promise<number>;
  connectionCounts(options: CallOptions): Promise<ConnectionCounts>;
  /** pg_database_size(current_database()). */
  databaseSize(options: CallOptions): Promise<number>;
  /** Row counts of schema-qualified tables (as pg_dump names them). */
  countQualified(tables: string[], options: CallOptions): Promise<Record<string, number>>;
  createDatabase(name: string, options: CallOptions): Promise<void>;
  dropDatabase(name: string, options: CallOptions): Promise<void>;
  analyze(options: CallOptions): Promise<void>;
  /** Ends the sessions of one application_name; returns how many. */
  terminateApplication(applicationName: string, options: CallOptions): Promise<number>;
  /** Client sessions of this database (pg_stat_activity, backend_type 'client backend'), not this adapter's own. */
  sessions(options: CallOptions): Promise<DbSession[]>;
  /**
   * pg_terminate_backend for these pids, each only if it is still a client session of this
   * database, idle (or idle in transaction) since before `idleBefore`, and not the control
   * plane's own (application_name erp-ops…): a session that became active meanwhile is spared.
   */
  terminateIdle(pids: number[], idleBefore: Date, options: CallOptions): Promise<number[]>;
  /** The slowest statements: from the view `v_slow_queries` when present, else pg_stat_statements; says which, or why neither. */
  slowQueries(limit: number, options: CallOptions): Promise<SlowQueries>;
  /** Runs one read-only integrity check (a SELECT returning one number: the rows that are wrong) in a read-only transaction. */
  integrityCheck(sql: string, options: CallOptions): Promise<number>;
  /** amcheck's bt_index_check on every B-tree index of the public schema, when the extension is installed. */
  amcheck(options: CallOptions): Promise<{ installed: boolean; indexesChecked: number; errors: { index: string; error: string }[] }>;
  /** VACUUM (ANALYZE) of the whole database, in autocommit (VACUUM cannot run inside a transaction block). */
  vacuumAnalyze(options: CallOptions): Promise<void>;
  /** An adapter for another database of the same server (same credentials). */
  withDatabase(name: string): TargetDatabasePort;
  close(): Promise<void>;
  /** pg_stat_database counters of this database (cache hits, transactions), in one reading. */
  databaseActivity(options: CallOptions): Promise<DatabaseActivity>;
  /** QT-09 protocol figures of a window (read-only transaction). */
  qt09Summary(window: TimeWindow, options: CallOptions): Promise<Qt09Summary>;
  /** Quality control figures of a window, and the defect trend of `trendDays` local days (time zone) ending with the window's. */
  qcSummary(window: TimeWindow, trend: { days: number; timezone: string }, options: CallOptions): Promise<QcSummary>;
}
