import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Client } from 'pg';
import { Role } from '../src/common/rights';
import { ProcedureRegistry } from '../src/procedures/procedure-registry';
import { dbUrl, withClient } from './helpers/db';
import { waitingProcedure } from './helpers/procedure-fixtures';
import { startTestApp, TestApp } from './helpers/test-app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The audit chain's lock (src/audit/audit.service.ts, CHAIN_LOCK). */
const CHAIN_LOCK = 7_340_002;

/**
 * Found by the soak (test/soak): a mutation answered 2xx whose audit write failed had no audit
 * entry (the interceptor's write only logged a failure). When the database connection dies
 * during that write (a restart of the control plane's PostgreSQL: 57P01, "Query runner already
 * released", ECONNREFUSED) the client still gets its 2xx; the entry now waits in the on-disk
 * spool and is appended when the database takes it. Here the same happens on purpose: the
 * chain lock is held so the write waits, and its session is terminated as a fast shutdown would.
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

  it('still leaves an audit entry for the 2xx it answered (from the spool), and the chain stays valid', async () => {
    const holder = new Client({ connectionString: dbUrl(t.database) });
    await holder.connect();
    const requestId = `audit-attack-${Date.now()}`;
    let answer;
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [CHAIN_LOCK]);
      const pending = t
        .http()
        .post('/api/v1/procedures/test.audited/runs')
        .set('Authorization', `Bearer ${token}`)
        .set('X-Request-Id', requestId)
        .send({ dryRun: true })
        .then((r) => r);
      // The write waits for the chain lock in its own session: end that session, as pg_ctl stop -m fast would.
      let pid: number | undefined;
      for (let i = 0; i < 200 && !pid; i++) {
        pid = (
          await holder.query(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
            [t.database],
          )
        ).rows[0]?.pid;
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
    // The spool is replayed every few seconds: the entry appears (bounded wait), once.
    let entries: unknown[] = [];
    for (let i = 0; i < 100 && entries.length === 0; i++) {
      entries = await withClient(
        t.database,
        async (c) => (await c.query('SELECT action, outcome FROM audit_entries WHERE request_id = $1', [requestId])).rows,
      );
      if (entries.length === 0) await sleep(200);
    }
    expect(entries).toEqual([{ action: 'procedure.request', outcome: 'success' }]);
    const verify = await t
      .http()
      .get('/api/v1/audit/verify')
      .set('Authorization', `Bearer ${await t.tokenFor(Role.Admin)}`);
    expect(verify.body).toMatchObject({ valid: true, brokenRanges: [] });
  });
});
