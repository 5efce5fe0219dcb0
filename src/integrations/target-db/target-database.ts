/**
 * The ERP's PostgreSQL database (pg): a small pool (3 connections) used for read-only
 * observations. Every call runs under its deadline: the pool wait and connect are raced, the
 * statement runs with statement_timeout set to the time left, and a connection still busy
 * when the deadline passes is discarded instead of returned to the pool.
 */
import { Pool, PoolClient } from 'pg';
import { maskUrl, maskValues } from '../../common/secrets';
import {
  ConnectionCounts,
  DatabaseActivity,
  DbSession,
  Qt09Summary,
  QcSummary,
  SlowQueries,
  TargetDatabasePort,
  TimeWindow,
} from '../contracts';
import { CallOptions, describeCode, errorCode, errorText, IntegrationError, IntegrationFailure, socketFailure } from '../integration-error';
import { Deadline, withDeadline } from '../http/deadline';

export const TABLE_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;
/** schema.table as pg_dump writes it: each part plain or double-quoted. */
export const QUALIFIED_TABLE = /^(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\.(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)$/;
export const APPLICATION_NAME = 'erp-ops-control-plane';
const QUIETED = Symbol('quieted');

export interface TargetDatabaseOptions {
  /** Pool size (default 3). */
  max?: number;
  /** Upper bound of one connection attempt, whatever the call's timeout (default 10 000 ms). */
  connectionTimeoutMs?: number;
  /** Idle connections are closed after this long (default 30 000 ms). */
  idleTimeoutMs?: number;
  /** The system named in errors (default erp-database). */
  system?: string;
}

/** "products" → "products"; "public.products" → "public"."products" (validated first). */
export function quoteTable(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}

// SQLSTATE classes and codes: https://www.postgresql.org/docs/current/errcodes-appendix.html
const REFUSED_SQLSTATES = new Set(['28000', '28P01', '3D000', '53300', '42501', '57P03', '08004']);
const TIMEOUT_SQLSTATES = new Set(['57014', '55P03', '25P03']);
const UNREACHABLE_SQLSTATES = new Set(['57P01', '57P02', '08000', '08003', '08006', '08001']);

export class TargetDatabase implements TargetDatabasePort {
  readonly system: string;
  private readonly pool: Pool;
  private readonly shown: string;
  private readonly database: string;
  private readonly password?: string;
  private closed = false;

  constructor(
    private readonly url: string,
    options: TargetDatabaseOptions = {},
  ) {
    this.system = options.system ?? 'erp-database';
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new IntegrationError(this.system, 'unreachable', `${this.system}: the database URL is not a valid postgres:// URL`);
    }
    this.password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
    this.database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    this.shown = maskUrl(url);
    this.pool = new Pool({
      connectionString: url,
      max: options.max ?? 3,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 10000,
      idleTimeoutMillis: options.idleTimeoutMs ?? 30000,
      application_name: APPLICATION_NAME,
      allowExitOnIdle: true,
    });
    // An idle connection that dies (server restart) must not crash the process.
    this.pool.on('error', () => undefined);
  }

  async ping(options: CallOptions): Promise<{ serverVersion: string; latencyMs: number }> {
    const started = performance.now();
    const rows = await this.query<{ v: string }>(
      'connecting and running SELECT 1',
      "SELECT current_setting('server_version') AS v",
      [],
      options,
    );
    return { serverVersion: String(rows[0]?.v ?? ''), latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  }

  async listTables(options: CallOptions): Promise<string[]> {
    const rows = await this.query<{ name: string }>(
      'listing the tables of schema public',
      "SELECT c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1",
      [],
      options,
    );
    return rows.map((r) => r.name);
  }

  async countRows(table: string, options: CallOptions): Promise<number> {
    if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
      throw new IntegrationError(
        this.system,
        'refused',
        `${this.system}: will not count rows of ${JSON.stringify(String(table).slice(0, 80))}: not a table name (lower case letters, digits and _, optionally schema.table)`,
      );
    }
    const rows = await this.query<{ n: string }>(
      `counting the rows of table ${table}`,
      `SELECT count(*) AS n FROM ${quoteTable(table)}`,
      [],
      options,
      table,
    );
    return Number(rows[0]?.n ?? 0);
  }

  async connectionCounts(options: CallOptions): Promise<ConnectionCounts & { perDatabaseNote?: string }> {
    const what = 'reading connection counts (pg_stat_activity, max_connections)';
    return this.withClient(what, options, async (client, deadline) => {
      await this.setStatementTimeout(client, deadline);
      const grouped = await client.query<{ database: string; count: number }>(
        'SELECT datname AS database, count(*)::int AS count FROM pg_stat_activity WHERE datname IS NOT NULL GROUP BY datname ORDER BY datname',
      );
      const max = await client.query<{ max_connections: string }>('SHOW max_connections');
      const byDatabase = grouped.rows.map((r) => ({ database: r.database, count: Number(r.count) }));
      return {
        total: byDatabase.reduce((sum, r) => sum + r.count, 0),
        max: Number(max.rows[0]?.max_connections ?? 0),
        byDatabase,
      };
    });
  }

  async databaseSize(options: CallOptions): Promise<number> {
    const rows = await this.query<{ n: string }>(
      'reading the database size',
      'SELECT pg_database_size(current_database()) AS n',
      [],
      options,
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Row counts of tables named as pg_dump writes them (schema.table, quoted where needed). */
  async countQualified(tables: string[], options: CallOptions): Promise<Record<string, number>> {
    for (const t of tables) {
      if (!QUALIFIED_TABLE.test(t))
        throw new IntegrationError(
          this.system,
          'refused',
          `${this.system}: will not count rows of ${JSON.stringify(t.slice(0, 80))}: not a schema-qualified table name`,
        );
    }
    return this.withClient(`counting the rows of ${tables.length} table(s)`, options, async (client, deadline) => {
      await this.setStatementTimeout(client, deadline);
      const counts: Record<string, number> = {};
      for (const t of tables) counts[t] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`)).rows[0]?.n ?? 0);
      return counts;
    });
  }

  /** CREATE DATABASE (a scratch database for a restore drill); the name is validated. */
  async createDatabase(name: string, options: CallOptions): Promise<void> {
    this.checkDatabaseName(name);
    await this.query(`creating database ${name}`, `CREATE DATABASE "${name}"`, [], options);
  }

  /** DROP DATABASE IF EXISTS … WITH (FORCE): sessions still connected are ended. */
  async dropDatabase(name: string, options: CallOptions): Promise<void> {
    this.checkDatabaseName(name);
    if (name === this.database)
      throw new IntegrationError(this.system, 'refused', `${this.system}: will not drop the database it is connected to (${name})`);
    await this.query(`dropping database ${name}`, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`, [], options);
  }

  /** Ends the server sessions of one application_name (a stopped pg_dump or psql: its transaction rolls back). */
  async terminateApplication(applicationName: string, options: CallOptions): Promise<number> {
    const rows = await this.query<{ n: number }>(
      `ending the sessions of ${applicationName}`,
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
      [applicationName],
      options,
    );
    return rows[0]?.n ?? 0;
  }

  async analyze(options: CallOptions): Promise<void> {
    await this.query('running ANALYZE', 'ANALYZE', [], options);
  }

  async sessions(options: CallOptions): Promise<DbSession[]> {
    const rows = await this.query<Record<string, unknown>>(
      'reading the sessions of the database (pg_stat_activity)',
      `SELECT pid, usename, application_name, client_addr::text AS client_addr, state, backend_type, left(query, 200) AS query,
              extract(epoch FROM now() - coalesce(state_change, backend_start))::float8 AS state_seconds
         FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
        ORDER BY state_seconds DESC`,
      [],
      options,
    );
    return rows.map((r) => ({
      pid: Number(r.pid),
      user: (r.usename as string | null) ?? null,
      application: String(r.application_name ?? ''),
      clientAddr: (r.client_addr as string | null) ?? null,
      state: (r.state as string | null) ?? null,
      stateSeconds: Math.round(Number(r.state_seconds ?? 0) * 10) / 10,
      backendType: String(r.backend_type ?? ''),
      query: String(r.query ?? ''),
    }));
  }

  async terminateIdle(pids: number[], idleBefore: Date, options: CallOptions): Promise<number[]> {
    if (!pids.length) return [];
    const rows = await this.query<{ pid: number }>(
      `terminating ${pids.length} idle session(s)`,
      `SELECT pid FROM pg_stat_activity
        WHERE pid = ANY($1::int[]) AND pid <> pg_backend_pid() AND datname = current_database()
          AND backend_type = 'client backend' AND application_name NOT LIKE 'erp-ops%'
          AND state IN ('idle', 'idle in transaction', 'idle in transaction (aborted)')
          AND coalesce(state_change, backend_start) < $2
          AND pg_terminate_backend(pid)`,
      [pids, idleBefore],
      options,
    );
    return rows.map((r) => Number(r.pid));
  }

  async slowQueries(limit: number, options: CallOptions): Promise<SlowQueries> {
    const n = Math.max(1, Math.min(100, Math.floor(limit)));
    return this.withClient('reading slow queries (v_slow_queries, pg_stat_statements)', options, async (client, deadline) => {
      await this.setStatementTimeout(client, deadline);
      const found = await client.query<{ view: boolean; ext: boolean; preloaded: boolean }>(
        `SELECT to_regclass('v_slow_queries') IS NOT NULL AS view,
                EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS ext,
                current_setting('shared_preload_libraries') ~ 'pg_stat_statements' AS preloaded`,
      );
      const { view, ext, preloaded } = found.rows[0];
      // The runbook reads the view first (whatever it is built on); else pg_stat_statements itself.
      if (!view && !ext)
        return {
          source: 'none',
          note: 'the pg_stat_statements extension is not installed in this database (CREATE EXTENSION pg_stat_statements; it also needs shared_preload_libraries)',
          queries: [],
        };
      if (!view && !preloaded)
        return {
          source: 'none',
          note: 'pg_stat_statements is installed but not in shared_preload_libraries: it collects nothing until the server is restarted with it',
          queries: [],
        };
      const source = view ? 'v_slow_queries' : 'pg_stat_statements';
      const sql = view
        ? `SELECT * FROM v_slow_queries LIMIT ${n}`
        : `SELECT query, calls, mean_exec_time, total_exec_time FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY mean_exec_time DESC LIMIT ${n}`;
      const rows = (await client.query<Record<string, unknown>>(sql)).rows;
      const num = (v: unknown) => Math.round(Number(v ?? 0) * 100) / 100;
      return {
        source,
        queries: rows.map((r) => ({
          query: String(r.query ?? '').slice(0, 500),
          calls: Number(r.calls ?? 0),
          meanMs: num(r.mean_exec_time ?? r.mean_time ?? r.mean_ms),
          totalMs: num(r.total_exec_time ?? r.total_time ?? r.total_ms),
        })),
      };
    });
  }

  async integrityCheck(sql: string, options: CallOptions): Promise<number> {
    return this.withClient('running an integrity check', options, async (client, deadline) => {
      await this.setStatementTimeout(client, deadline);
      await client.query('BEGIN READ ONLY');
      try {
        const result = await client.query(sql);
        const first = result.rows[0] ? Object.values(result.rows[0])[0] : 0;
        const value = Number(first ?? 0);
        if (!Number.isFinite(value))
          throw new IntegrationError(
            this.system,
            'bad_response',
            `${this.system}: an integrity check must return one number (the rows that are wrong), got ${JSON.stringify(first).slice(0, 80)}`,
          );
        return value;
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
      }
    });
  }

  async amcheck(options: CallOptions): Promise<{ installed: boolean; indexesChecked: number; errors: { index: string; error: string }[] }> {
    return this.withClient('checking B-tree indexes (amcheck)', options, async (client, deadline) => {
      await this.setStatementTimeout(client, deadline);
      const ext = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'amcheck'");
      if (!ext.rows[0]?.n) return { installed: false, indexesChecked: 0, errors: [] };
      const indexes = await client.query<{ oid: number; name: string }>(
        `SELECT c.oid::int AS oid, format('%I.%I', n.nspname, c.relname) AS name
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_am am ON am.oid = c.relam
          WHERE am.amname = 'btree' AND n.nspname = 'public' AND i.indisvalid AND i.indisready`,
      );
      const errors: { index: string; error: string }[] = [];
      for (const index of indexes.rows) {
        try {
          await client.query('SELECT bt_index_check($1::regclass)', [index.oid]);
        } catch (error) {
          errors.push({ index: index.name, error: String((error as Error).message).slice(0, 300) });
        }
      }
      return { installed: true, indexesChecked: indexes.rows.length, errors };
    });
  }

  /**
   * VACUUM (ANALYZE) of the whole database. VACUUM cannot run inside a transaction block
   * (SQLSTATE 25001): it is sent alone, in autocommit, with the simple query protocol, on a
   * connection first taken out of any transaction block a previous statement left open.
   */
  async vacuumAnalyze(options: CallOptions): Promise<void> {
    await this.withClient('running VACUUM (ANALYZE)', options, async (client, deadline) => {
      await client.query('ROLLBACK'); // outside a transaction only a warning: ensures autocommit
      await this.setStatementTimeout(client, deadline);
      await client.query('VACUUM (ANALYZE)');
    });
  }

  /** The same server, another database (same credentials); close it after use. */
  withDatabase(name: string): TargetDatabase {
    this.checkDatabaseName(name);
    const url = new URL(this.url);
    url.pathname = `/${encodeURIComponent(name)}`;
    return new TargetDatabase(url.toString(), { max: 1, system: this.system });
  }

  private checkDatabaseName(name: string): void {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
      throw new IntegrationError(
        this.system,
        'refused',
        `${this.system}: ${JSON.stringify(name.slice(0, 80))} is not a database name this control plane handles (lower case letters, digits, _)`,
      );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }

  private async query<R extends object>(what: string, sql: string, params: unknown[], options: CallOptions, table?: string): Promise<R[]> {
    return this.withClient(
      what,
      options,
      async (client, deadline) => {
        await this.setStatementTimeout(client, deadline);
        const result = await client.query<R>(sql, params);
        return result.rows;
      },
      table,
    );
  }

  private async setStatementTimeout(client: PoolClient, deadline: Deadline): Promise<void> {
    // An integer computed here, never input: safe to inline (SET takes no parameters).
    await client.query(`SET statement_timeout = ${Math.max(1, Math.floor(deadline.remainingMs()))}`);
  }

  /** Runs fn with a pooled connection under the call's deadline. */
  private withClient<T>(
    what: string,
    options: CallOptions,
    fn: (client: PoolClient, deadline: Deadline) => Promise<T>,
    table?: string,
  ): Promise<T> {
    if (this.closed)
      return Promise.reject(
        new IntegrationError(
          this.system,
          'unreachable',
          `${this.system}: ${what} failed: the adapter is closed (application shutting down)`,
        ),
      );
    return withDeadline(
      this.system,
      `${what} on ${this.shown}`,
      options,
      async (deadline) => {
        let client: PoolClient | undefined;
        let released = false;
        let abandoned = false;
        /** Gives the connection back once; destroy closes it instead of pooling it. */
        const release = (destroy: boolean) => {
          if (!client || released) return;
          released = true;
          client.release(destroy ? true : undefined);
        };
        const connecting = this.pool.connect();
        const onAbort = () => {
          if (client) {
            // Busy past the deadline: close it, which also ends the statement's wait here.
            release(true);
          } else {
            abandoned = true;
            connecting.then((c) => c.release(true)).catch(() => undefined);
          }
        };
        deadline.signal.addEventListener('abort', onAbort, { once: true });
        try {
          const acquired = await connecting;
          if (abandoned) throw new Error('deadline passed while waiting for a connection');
          // A connection that dies while checked out (server killed, session terminated)
          // reaches the statement as its error; the client's own 'error' event must not
          // crash the process once the pool no longer listens to it.
          if (!(acquired as any)[QUIETED]) {
            acquired.on('error', () => undefined);
            (acquired as any)[QUIETED] = true;
          }
          client = acquired;
          try {
            const result = await fn(client, deadline);
            release(false);
            return result;
          } catch (error) {
            const code = (error as any)?.code;
            const sqlError = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
            // Keep the connection after an ordinary SQL error; close it after anything else.
            release(!sqlError || socketFailure(errorCode(error)) !== undefined);
            throw error;
          }
        } finally {
          deadline.signal.removeEventListener('abort', onAbort);
        }
      },
      (error) => this.mapError(what, error, table),
    );
  }

  private mapError(what: string, error: unknown, table?: string): IntegrationError {
    const e: any = error;
    const sqlstate: string | undefined = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
    const secrets = [this.password];
    const fail = (failure: IntegrationFailure, detail: string) =>
      new IntegrationError(this.system, failure, maskValues(`${this.system}: ${what} failed: ${detail}`, secrets));
    if (sqlstate === '42P01') {
      return fail('bad_response', `table ${table ?? '(unknown)'} does not exist in database ${this.database} (${errorText(error)})`);
    }
    if (sqlstate) {
      const detail = `${errorText(error)} (SQLSTATE ${sqlstate})`;
      if (TIMEOUT_SQLSTATES.has(sqlstate)) return fail('timeout', detail);
      if (REFUSED_SQLSTATES.has(sqlstate)) return fail('refused', detail);
      if (UNREACHABLE_SQLSTATES.has(sqlstate)) return fail('unreachable', detail);
      return fail('bad_response', detail);
    }
    const code = errorCode(error);
    const socket = socketFailure(code);
    if (socket) return fail(socket, `cannot connect to ${this.shown}: ${describeCode(code!)}`);
    const text = errorText(error);
    if (/timeout exceeded when trying to connect|connection timeout/i.test(text))
      return fail('timeout', `no connection to ${this.shown} in time (${text})`);
    if (/Connection terminated|connection closed|Client has encountered a connection error/i.test(text))
      return fail('unreachable', `the connection to ${this.shown} was lost (${text})`);
    if (/password authentication|SASL|no pg_hba/i.test(text)) return fail('refused', text);
    return fail('bad_response', text);
  }
  async databaseActivity(options: CallOptions): Promise<DatabaseActivity> {
    const rows = await this.query<Record<string, unknown>>(
      'reading the database statistics (pg_stat_database)',
      `SELECT blks_hit::text AS hit, blks_read::text AS read, xact_commit::text AS commits, xact_rollback::text AS rollbacks,
              coalesce(stats_reset, pg_postmaster_start_time()) AS since, now() AS at
         FROM pg_stat_database WHERE datname = current_database()`,
      [],
      options,
    );
    const r = rows[0];
    if (!r)
      throw new IntegrationError(this.system, 'bad_response', `${this.system}: pg_stat_database has no row for database ${this.database}`);
    return {
      blocksHit: Number(r.hit),
      blocksRead: Number(r.read),
      commits: Number(r.commits),
      rollbacks: Number(r.rollbacks),
      statsSince: new Date(r.since as Date),
      at: new Date(r.at as Date),
    };
  }

  async qt09Summary(window: TimeWindow, options: CallOptions): Promise<Qt09Summary> {
    return this.readOnly(
      'reading the QT-09 protocol figures (transfer_logs, alert_logs, line_occupancy)',
      options,
      'transfer_logs / alert_logs',
      async (client) => {
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
      },
    );
  }

  async qcSummary(window: TimeWindow, trend: { days: number; timezone: string }, options: CallOptions): Promise<QcSummary> {
    const days = Math.max(1, Math.min(90, Math.floor(trend.days)));
    return this.readOnly('reading the quality control figures (qc_inspections)', options, 'qc_inspections', async (client) => {
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
          [window.to, trend.timezone, days],
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
    });
  }

  /** Runs fn in a read-only transaction under the call's deadline. */
  private readOnly<T>(what: string, options: CallOptions, table: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(
      what,
      options,
      async (client, deadline) => {
        await this.setStatementTimeout(client, deadline);
        await client.query('BEGIN READ ONLY');
        try {
          return await fn(client);
        } finally {
          await client.query('ROLLBACK').catch(() => undefined);
        }
      },
      table,
    );
  }
}
