/**
 * Where a benchmark's control plane keeps what lives outside its database: the master key,
 * the audit anchors and the audit spool, in bench/results/state-<name>/ (one per benchmark
 * database, kept between runs so that its chain and signing keys stay readable), never the
 * checkout's own .ops-master-key and anchor file.
 */
const { mkdirSync } = require('node:fs');
const { join } = require('node:path');

function benchState(name) {
  const dir = join(__dirname, 'results', `state-${name}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    OPS_MASTER_KEY_FILE: join(dir, 'master-key'),
    OPS_AUDIT_ANCHOR_FILE: join(dir, 'audit-anchors.jsonl'),
    OPS_AUDIT_SPOOL_DIR: join(dir, 'audit-spool'),
  };
}

module.exports = { benchState };
