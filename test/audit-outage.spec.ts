import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Client } from 'pg';
import { Role } from '../src/guards/rights';
import { ProcedureRegistry } from '../src/procedures/procedure-registry';
import { dbUrl, withClient } from './helpers/db';
import { waitingProcedure } from './helpers/procedure-fixtures';
import { startTestApp, TestApp } from './helpers/test-app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The audit chain's lock (src/modules/audit/audit.service.ts, CHAIN_LOCK). */
const CHAIN_LOCK = 7_340_002;

/**
 * OPEN (found by the soak, test/soak): a mutation answered 2xx whose audit write failed has no
 * audit entry. The interceptor writes the entry after the handler, through
 * AuditService.recordSafely, which only logs a failure; when the database connection dies
 * during that write (a restart of the control plane's PostgreSQL: 57P01, "Query runner already
 * released", ECONNREFUSED) the client still gets its 2xx. Here the same happens on purpose: the
 * chain lock is held so the write waits, and its session is terminated as a fast shutdown would.
 * A durable spool for audit entries (another developer) fixes it; then drop `todo`.
 *   node --test --test-force-exit dist/test/audit-outage.spec.js
 */
describe('an audit write that fails after the mutation succeeded', () => {
  let t: TestApp;
  let token: string;

  before(async () => {
    t = await startTestApp({ env: { OPS_STATS_SAMPLER: 'false' } });
    t.app.get(ProcedureRegistry).register(waitingProcedure('test.audited'));
    token = await t.tokenFor(Role.Operator);
  });
  after(async () => {
    await t?.close();
  });

  it('still leaves an audit entry for the 2xx it answered', { todo: 'audit entries are lost when the audit write fails (recordSafely only logs); a durable spool is on its way' }, async () => {
    const holder = new Client({ connectionString: dbUrl(t.database) });
    await holder.connect();
    const requestId = `audit-attack-${Date.now()}`;
    let answer;
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [CHAIN_LOCK]);
      const pending = t.http().post('/api/v1/procedures/test.audited/runs').set('Authorization', `Bearer ${token}`).set('X-Request-Id', requestId).send({ dryRun: true }).then((r) => r);
      // The write waits for the chain lock in its own session: end that session, as pg_ctl stop -m fast would.
      let pid: number | undefined;
      for (let i = 0; i < 200 && !pid; i++) {
        pid = (await holder.query("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory'", [t.database])).rows[0]?.pid;
        if (!pid) await sleep(25);
      }
      expect(pid).toBeDefined();
      await holder.query('SELECT pg_terminate_backend($1)', [pid]);
      await holder.query('SELECT pg_advisory_unlock($1)', [CHAIN_LOCK]);
      answer = await pending;
    } finally {
      await holder.end();
    }
    expect(answer.status).toBe(201); // the dry run happened and the client was told so
    const entries = await withClient(t.database, async (c) => (await c.query('SELECT action, outcome FROM audit_entries WHERE request_id = $1', [requestId])).rows);
    expect(entries).toEqual([{ action: 'procedure.request', outcome: 'success' }]);
  });
});
