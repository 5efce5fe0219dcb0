#!/usr/bin/env node
/**
 * Benchmark (issue 5): backups on the `large` seed (>= 500 MB), alternating in one run.
 *
 *   backup:  POST /api/v1/backups?wait=true (request → file on disk, fsynced, SHA-256 and
 *            completion marker checked, catalogued) against the runbook's
 *            `docker exec erp-postgres pg_dump -U postgres DB | gzip > FILE`
 *            (floor: `pg_dump > /dev/null`). Target ratio <= 0.6.
 *   memory:  the control plane's peak RSS while it backs up (sampled every 50 ms; target < 200 MB).
 *   restore: the restore drill's measured restore (file → gunzip → psql in one transaction,
 *            into an empty scratch database) against
 *            `zcat FILE | docker exec -i erp-postgres psql -v ON_ERROR_STOP=1 -1` into an
 *            empty database. Target ratio <= 1.1.
 *
 *   npm run bench:backup   (BENCH_ROUNDS=3; needs the stand-in stack and `npm run stack:seed -- --scale large`)
 */
const { join } = require('node:path');
const { readFileSync, mkdtempSync, rmSync, statSync } = require('node:fs');
const { execFileSync, spawnSync } = require('node:child_process');
const { tmpdir } = require('node:os');

const ROOT = join(__dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const dist = (p) => require(join(ROOT, 'dist/src', p));
const DB = 'erp_quty_karunia_prod';
const SERVER = 'postgres://postgres:erp-stack-dev@127.0.0.1:15432';

const sh = (script) => {
  const started = performance.now();
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${script}: exit ${r.status}: ${r.stderr}`);
  return performance.now() - started;
};
const psql = (sql) => execFileSync('psql', ['-X', '-qAt', `${SERVER}/postgres`, '-c', sql], { encoding: 'utf8' }).trim();
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
const mb = (b) => `${(b / 1048576).toFixed(0)} MB`;

async function main() {
  const { loadAppConfig } = dist('config/app-config.js');
  const { parseInventory } = dist('config/inventory.loader.js');
  const { createLogger } = dist('common/logger.js');
  const { createApp } = dist('app.factory.js');
  const { ensureDatabase } = dist('infra/database/ensure-database.js');
  const { migrate } = dist('infra/database/migrator.js');
  const { UsersService } = dist('modules/auth/users.service.js');

  const size = Number(psql(`SELECT pg_database_size('${DB}')`));
  if (size < 500 * 1048576) throw new Error(`the ERP database is ${mb(size)}: seed the large fixture first (npm run stack:seed -- --scale large)`);
  const dir = mkdtempSync(join(tmpdir(), 'erp-bench-backups-'));
  const env = {
    ...process.env,
    OPS_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/erp_ops_bench_backup',
    OPS_REDIS_PREFIX: `bench-backup:${process.pid}:`,
    OPS_SCHEDULER: 'false',
    OPS_LOG_LEVEL: 'warn',
    OPS_RATE_LIMIT_PER_MINUTE: '0',
  };
  const config = loadAppConfig(env);
  const file = join(ROOT, 'stack/ops.stack.yaml');
  const inventory = parseInventory(readFileSync(file, 'utf8').replace(/directory: .*/, `directory: ${dir}`), file, env);
  await ensureDatabase(config.OPS_DATABASE_URL);
  await migrate(config.OPS_DATABASE_URL);
  const app = await createApp({ config, inventory, inventoryFile: file, logger: createLogger('warn') });
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${app.getHttpServer().address().port}`;
  const username = `bench${Date.now()}`;
  await app.get(UsersService).create({ username, password: 'bench-password-123456', role: 'admin' });
  const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'bench-password-123456' }) });
  const token = (await login.json()).accessToken;
  const api = async (method, path) => {
    const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
    return res.json();
  };

  console.log(`ERP database ${mb(size)} (large seed), ${ROUNDS} rounds, dumps via ${inventory.backups.dumpVia}, gzip -${inventory.backups.compressionLevel}`);
  const ours = [];
  const runbook = [];
  const floor = [];
  const peaks = [];
  const restores = [];
  const baselineRestores = [];
  let last;
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which goes first.
      const order = round % 2 ? ['ours', 'runbook'] : ['runbook', 'ours'];
      for (const which of order) {
        if (which === 'runbook') {
          runbook.push(sh(`docker exec erp-postgres pg_dump -U postgres ${DB} | gzip > ${dir}/runbook.sql.gz`));
          continue;
        }
        global.gc?.();
        const rssBefore = process.memoryUsage().rss;
        let peak = rssBefore;
        const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
        const started = performance.now();
        const result = await api('POST', '/api/v1/backups?wait=true&waitSeconds=3600');
        const wall = performance.now() - started;
        clearInterval(sampler);
        if (result.run?.status !== 'succeeded') throw new Error(`backup failed: ${JSON.stringify(result).slice(0, 500)}`);
        ours.push(wall);
        peaks.push(peak);
        last = result.backup;
        console.log(`  round ${round}: control plane ${(wall / 1000).toFixed(1)} s (${mb(last.sizeBytes)} file), peak RSS ${mb(peak)} (before ${mb(rssBefore)})`);
      }
      console.log(`  round ${round}: runbook pg_dump | gzip ${(runbook[runbook.length - 1] / 1000).toFixed(1)} s (${mb(statSync(`${dir}/runbook.sql.gz`).size)} file)`);
      floor.push(sh(`docker exec erp-postgres pg_dump -U postgres ${DB} > /dev/null`));
    }
    // Restore: our drill's measured restore against zcat | psql -1 into an empty database.
    for (let round = 1; round <= ROUNDS; round++) {
      const verified = await api('POST', `/api/v1/backups/${last.id}/verify?wait=true&waitSeconds=3600`);
      if (verified.run?.status !== 'succeeded') throw new Error(`verify failed: ${JSON.stringify(verified).slice(0, 500)}`);
      restores.push(verified.backup.drillDurationMs);
      psql('DROP DATABASE IF EXISTS bench_restore WITH (FORCE)');
      psql('CREATE DATABASE bench_restore');
      baselineRestores.push(sh(`zcat ${dir}/${last.fileName} | docker exec -i erp-postgres psql -X -q -U postgres -v ON_ERROR_STOP=1 -1 -d bench_restore > /dev/null`));
      psql('DROP DATABASE IF EXISTS bench_restore WITH (FORCE)');
      console.log(`  restore round ${round}: drill ${(restores[round - 1] / 1000).toFixed(1)} s, zcat | psql -1 ${(baselineRestores[round - 1] / 1000).toFixed(1)} s`);
    }
    const r = median(ours) / median(runbook);
    console.log(`backup: control plane median ${(median(ours) / 1000).toFixed(1)} s, runbook pg_dump | gzip ${(median(runbook) / 1000).toFixed(1)} s, floor pg_dump > /dev/null ${(median(floor) / 1000).toFixed(1)} s`);
    console.log(`backup wall-time ratio (control plane / runbook): ${r.toFixed(2)} (target <= 0.6; floor / runbook = ${(median(floor) / median(runbook)).toFixed(2)})`);
    console.log(`control plane peak RSS during a backup: ${mb(Math.max(...peaks))} (target < 200 MB) for a ${mb(size)} database`);
    console.log(`restore ratio (drill restore / zcat | psql -1): ${(median(restores) / median(baselineRestores)).toFixed(2)} (median ${(median(restores) / 1000).toFixed(1)} s vs ${(median(baselineRestores) / 1000).toFixed(1)} s; target <= 1.1)`);
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
