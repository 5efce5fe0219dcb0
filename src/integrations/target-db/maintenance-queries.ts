/**
 * The database's own health readings that take several statements (slow queries, index checks):
 * plain functions of a connection, run by the adapter under its deadline.
 */
import { PoolClient } from 'pg';
import { SlowQueries } from '../contracts';

/** The slowest statements: from the view `v_slow_queries` when present, else pg_stat_statements; says which, or why neither. */
export async function readSlowQueries(client: PoolClient, n: number): Promise<SlowQueries> {
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
}

/** amcheck's bt_index_check on every B-tree index of the public schema, when the extension is installed. */
export async function checkIndexes(
  client: PoolClient,
): Promise<{ installed: boolean; indexesChecked: number; errors: { index: string; error: string }[] }> {
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
}
