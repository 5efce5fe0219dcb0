/**
 * The ERP database fixture: scripts/stack/seed.js --scale small creates the ERP's tables in
 * erp_quty_karunia_prod with rows, upper-case enum values, v_slow_queries and
 * mv_qc_pass_rate, deterministically for a given seed.
 */
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { Client } from 'pg';
import { REPO_ROOT, DATABASE_URL } from './stack-helpers';

const seed = (n: number) => execFileSync('node', [path.join(REPO_ROOT, 'scripts/stack/seed.js'), '--scale', 'small', '--seed', String(n), '--anchor', '2026-01-19'], { encoding: 'utf8' });

describe('ERP database fixture', () => {
  let db: Client;
  before(async () => {
    db = new Client({ connectionString: DATABASE_URL });
    await db.connect();
  });
  after(async () => {
    await db.end();
  });
  const digest = async () => (await db.query(`SELECT md5(string_agg(t::text, '|' ORDER BY id)) AS h FROM transfer_logs t`)).rows[0].h as string;

  it('creates the main tables with rows, upper-case enums and the views', async () => {
    seed(7);
    for (const table of ['products', 'manufacturing_orders', 'work_orders', 'spks', 'transfer_logs', 'line_occupancy', 'qc_inspections', 'qc_checkpoints', 'alert_logs', 'stock_quants', 'stock_moves', 'users', 'audit_logs', 'segregasi_acknowledgement', 'purchase_orders', 'bom_headers', 'bom_details']) {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM ${table}`);
      expect({ table, n: rows[0].n > 0 }).toEqual({ table, n: true });
    }
    const statuses = (await db.query('SELECT DISTINCT status FROM transfer_logs ORDER BY 1')).rows.map((r) => r.status);
    expect(statuses).toEqual(expect.arrayContaining(['BLOCKED', 'COMPLETED', 'LOCKED']));
    expect((await db.query(`SELECT DISTINCT status FROM qc_inspections ORDER BY 1`)).rows.map((r) => r.status)).toEqual(['FAIL', 'PASS']);
    expect((await db.query(`SELECT count(*)::int AS n FROM qc_inspections WHERE type = 'FINAL_METAL_DETECTOR'`)).rows[0].n).toBeGreaterThan(0);
    expect((await db.query(`SELECT DISTINCT occupancy_status FROM line_occupancy ORDER BY 1`)).rows.map((r) => r.occupancy_status)).toEqual(['CLEAR', 'OCCUPIED', 'PAUSED']);
    const slow = await db.query('SELECT * FROM v_slow_queries');
    expect(slow.rows.length).toBeGreaterThan(0);
    expect(Number(slow.rows[0].mean_exec_time)).toBeGreaterThan(100);
    expect((await db.query('SELECT count(*)::int AS n FROM mv_qc_pass_rate')).rows[0].n).toBeGreaterThan(0);
    expect((await db.query('SHOW max_connections')).rows[0].max_connections).toBe('200');
    expect((await db.query('SHOW shared_preload_libraries')).rows[0].shared_preload_libraries).toContain('pg_stat_statements');
  });

  it('is deterministic for a given seed and differs for another', async () => {
    seed(7);
    const a = await digest();
    seed(8);
    const b = await digest();
    seed(7);
    expect(await digest()).toBe(a);
    expect(b).not.toBe(a);
  });
});
