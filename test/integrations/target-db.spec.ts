/**
 * TargetDatabase against the stand-in's PostgreSQL (erp-postgres, 127.0.0.1:15432).
 */
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { TargetDatabase, quoteTable } from '../../src/integrations/target-db/target-database';
import { docker, healthStatus, waitFor } from '../stack/stack-helpers';
import { STACK_PASSWORD, closedPort, failure, stackInventory, startHangingServer, timesOut } from './helpers';

const inventory = stackInventory();
const T = { timeoutMs: 5000 };

describe('TargetDatabase', () => {
  let db: TargetDatabase;
  const extra: TargetDatabase[] = [];
  const other = (url: string) => {
    const d = new TargetDatabase(url);
    extra.push(d);
    return d;
  };

  before(() => {
    db = new TargetDatabase(inventory.erpDatabase.url);
  });
  after(async () => {
    await db.close();
    await Promise.all(extra.map((d) => d.close()));
  });

  it('pings: server version and latency', async () => {
    const p = await db.ping(T);
    expect(p.serverVersion).toMatch(/^15\./);
    expect(p.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('lists the seeded tables of schema public', async () => {
    const tables = await db.listTables(T);
    for (const t of ['products', 'users', 'manufacturing_orders', 'work_orders', 'qc_inspections']) expect(tables).toContain(t);
    expect(tables).toEqual([...tables].sort());
  });

  it('counts rows of a table, with or without its schema', async () => {
    const n = await db.countRows(inventory.erpDatabase.countTable, T);
    expect(Number.isInteger(n)).toBe(true);
    expect(n).toBeGreaterThan(0);
    expect(await db.countRows('public.products', T)).toBe(n);
    expect(quoteTable('public.products')).toBe('"public"."products"');
  });

  it('a missing table is bad_response naming the table', async () => {
    const e = await failure(db.countRows('no_such_table', T), 'bad_response', 'erp-database');
    expect(e.message).toContain('no_such_table');
    expect(e.message).toContain('does not exist');
    // the connection stays usable
    expect((await db.ping(T)).serverVersion).toMatch(/^15\./);
  });

  it('refuses a table name that is not one, without sending it', async () => {
    for (const bad of ['products; DROP TABLE users', 'Products', '"products"', 'a.b.c', '']) {
      await failure(db.countRows(bad, T), 'refused', 'erp-database');
    }
  });

  it('counts connections per database against max_connections', async () => {
    const c = await db.connectionCounts(T);
    expect(c.max).toBe(200);
    expect(c.total).toBeGreaterThanOrEqual(1);
    const erp = c.byDatabase.find((d) => d.database === 'erp_quty_karunia_prod');
    expect(erp?.count).toBeGreaterThanOrEqual(1);
    expect(c.total).toBe(c.byDatabase.reduce((s, d) => s + d.count, 0));
  });

  it('a wrong port is unreachable, and the message masks the password', async () => {
    const port = await closedPort();
    const e = await failure(other(inventory.erpDatabase.url.replace(':15432', `:${port}`)).ping(T), 'unreachable', 'erp-database');
    expect(e.message).toContain(`127.0.0.1:${port}`);
    expect(e.message).toContain('****');
    expect(e.message).not.toContain(STACK_PASSWORD);
  });

  it('a wrong password is refused (and not shown)', async () => {
    const e = await failure(other(inventory.erpDatabase.url.replace(`:${STACK_PASSWORD}@`, ':not-the-password@')).ping(T), 'refused');
    expect(e.message).toMatch(/password authentication failed/);
    expect(e.message).not.toContain('not-the-password');
  });

  it('a server that never answers is a timeout within the deadline', async () => {
    const hang = await startHangingServer();
    try {
      const d = other(`postgres://postgres:${STACK_PASSWORD}@127.0.0.1:${hang.port}/erp_quty_karunia_prod`);
      await timesOut((timeoutMs) => d.ping({ timeoutMs }), 300, 'erp-database');
      await timesOut((timeoutMs) => d.listTables({ timeoutMs }), 200);
    } finally {
      await hang.close();
    }
  });

  it('a paused database is a timeout within the deadline, and the pool recovers', async () => {
    const r = await docker('POST', '/containers/erp-postgres/pause');
    expect(r.status).toBe(204);
    try {
      await timesOut((timeoutMs) => db.countRows('products', { timeoutMs }), 300, 'erp-database');
    } finally {
      await docker('POST', '/containers/erp-postgres/unpause');
    }
    const n = await waitFor(
      'count after unpause',
      async () => db.countRows('products', { timeoutMs: 2000 }).catch(() => undefined),
      15000,
      100,
    );
    expect(n).toBeGreaterThan(0);
    await waitFor('erp-postgres healthy', async () => (await healthStatus('erp-postgres')) === 'healthy', 30000);
  });

  it('after close, calls fail as unreachable', async () => {
    const d = new TargetDatabase(inventory.erpDatabase.url);
    await d.ping(T);
    await d.close();
    await failure(d.ping(T), 'unreachable');
  });
});
