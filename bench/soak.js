#!/usr/bin/env node
/**
 * Load and fault benchmark: the control plane in its own process on its own PostgreSQL,
 * Redis and Docker engine (all on 127.0.0.1, under a temp folder, stopped by their PIDs; the
 * machine's engine, PostgreSQL and Redis are never touched), 200 concurrent clients for 60 s
 * of steady load, then under the same load its PostgreSQL restarted (pg_ctl stop -m fast,
 * start), its Redis restarted (no persistence: every key lost) and its Docker engine
 * restarted, one at a time. Prints per phase: requests, req/s, p50/p99/max latency, 5xx,
 * 503s (and those without Retry-After), other 5xx, requests without an answer, and the
 * recovery time (dependency answering again → first /health/ready 200 and first 2xx of an
 * authenticated read; for the engine also the first checklist that sees it). Then the runs'
 * outcomes, locks left behind, the audit chain and the audit entries of 2xx mutations.
 * Exits 1 when a requirement fails (a 5xx in the steady phase, a 5xx other than 503 or a 503
 * without Retry-After in a fault phase, a request past the timeout, no recovery within 15 s,
 * a run left open, a lock held by an ended run, a broken chain or a missing audit entry).
 *
 *   npm run bench:soak        (builds src/ and test/ with npm run build:test first)
 *
 * Settings (environment):
 *   SOAK_CLIENTS=200            concurrent clients (closed loops)
 *   SOAK_SECONDS=60             steady phase
 *   SOAK_LEAD_SECONDS=5         load before each fault
 *   SOAK_OUTAGE_SECONDS=5       how long each dependency stays down
 *   SOAK_TAIL_SECONDS=10        load after the recovery in each fault phase
 *   SOAK_REQUEST_TIMEOUT_MS=10000  the control plane's OPS_REQUEST_TIMEOUT_MS
 *   SOAK_MARGIN_MS=2000         a request longer than the timeout + this counts as a hang
 *   SOAK_USERS=20               senior_dev users the clients share (client i uses user i % N)
 *   SOAK_PHASES=steady,postgres,redis,docker   which phases, in this order
 *   SOAK_KEEP=1                 keep the temp folder (control plane, PostgreSQL, dockerd logs)
 *   SOAK_JSON=<file>            also write the whole result (with every bad request) as JSON
 * Needs root (PostgreSQL runs as the postgres OS user through runuser; dockerd), Debian's
 * PostgreSQL 15 (/usr/lib/postgresql/15/bin, SOAK_PG_BIN), redis-server and dockerd.
 */
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const harness = require(join(__dirname, '../dist/test/soak/soak-harness.js'));

async function main() {
  const settings = harness.settingsFromEnv({ log: (line) => process.stderr.write(`${line}\n`) });
  const result = await harness.runSoak(settings);
  const problems = harness.problemsOf(result, settings);
  process.stdout.write(`\n${harness.formatTable(result)}\n\n`);
  process.stdout.write(harness.formatSummary(result));
  if (process.env.SOAK_JSON) writeFileSync(process.env.SOAK_JSON, JSON.stringify(result, null, 2));
  if (problems.length) {
    process.stdout.write(`\nFAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write('\nevery requirement met\n');
  }
}

main().catch((error) => {
  process.stderr.write(`soak failed: ${error.stack}\n`);
  process.exit(1);
});
