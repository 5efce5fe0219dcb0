/**
 * The ERP's PostgreSQL database (pg): a small pool (3 connections) used for read-only
 * observations. Every call runs under its deadline: the pool wait and connect are raced, the
 * statement runs with statement_timeout set to the time left, and a connection still busy
 * when the deadline passes is discarded instead of returned to the pool.
 */
import { Pool, PoolClient } from 'pg';
import { maskUrl } from '../../common/secrets';
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
import { CallOptions, errorCode, IntegrationError, socketFailure } from '../integration-error';
import { Deadline, withDeadline } from '../http/deadline';
import { checkIndexes, readSlowQueries } from './maintenance-queries';
import { pgError } from './pg-errors';
import { readQcSummary, readQt09Summary } from './report-queries';

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
      return readSlowQueries(client, n);
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
      return checkIndexes(client);
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
    return pgError({ system: this.system, database: this.database, shown: this.shown, password: this.password }, what, error, table);
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
        return readQt09Summary(client, window);
      },
    );
  }

  async qcSummary(window: TimeWindow, trend: { days: number; timezone: string }, options: CallOptions): Promise<QcSummary> {
    const days = Math.max(1, Math.min(90, Math.floor(trend.days)));
    return this.readOnly('reading the quality control figures (qc_inspections)', options, 'qc_inspections', async (client) => {
      return readQcSummary(client, window, days, trend.timezone);
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
