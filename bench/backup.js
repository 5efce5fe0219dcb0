#!/usr/bin/env node
/**
 * Benchmark (issue 5): backups on the `large` seed (>= 500 MB), alternating in one run.
 *
 *   backup:  POST /api/v1/backups?wait=true (request → file on disk, fsynced, SHA-256 and
 *            completion marker checked, catalogued) against the runbook's
 *            `docker exec erp-postgres pg_dump -U postgres DB | gzip > FILE`
 *            (floor: `pg_dump > /dev/null`). Target ratio <= 0.6.
 *   memory:  the control plane's peak RSS (its own process, node dist/src/main.js, VmRSS sampled
 *            every 50 ms) while it backs up (target < 200 MB).
 *   restore: the restore drill's measured restore (file → gunzip → psql in one transaction,
 *            into an empty scratch database) against
 *            `zcat FILE | docker exec -i erp-postgres psql -v ON_ERROR_STOP=1 -1` into an
 *            empty database. Target ratio <= 1.1.
 *
 *   npm run bench:backup   (BENCH_ROUNDS=3, BENCH_NODE_ARGS='--flag …' for the control plane's node, BENCH_DUMP_VIA=docker-exec|tcp, BENCH_LEVEL=1..9; needs the stand-in stack and `npm run stack:seed -- --scale large`)
 */
const { join } = require('node:path');
const { benchState } = require('./bench-state');
const { readFileSync, mkdtempSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const { tmpdir } = require('node:os');
const http = require('node:http');

const ROOT = join(__dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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

/** Resident set size of a process (kB → bytes), from /proc. */
const rssOf = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  } catch {
    return 0;
  }
};

async function main() {
  const size = Number(psql(`SELECT pg_database_size('${DB}')`));
  if (size < 500 * 1048576)
    throw new Error(`the ERP database is ${mb(size)}: seed the large fixture first (npm run stack:seed -- --scale large)`);
  const dir = mkdtempSync(join(tmpdir(), 'erp-bench-backups-'));
  // The control plane as it runs in production: its own process (node dist/src/main.js).
  let text = readFileSync(join(ROOT, 'stack/ops.stack.yaml'), 'utf8').replace(/directory: .*/, `directory: ${dir}`);
  if (process.env.BENCH_DUMP_VIA) text = text.replace(/dumpVia: .*/, `dumpVia: ${process.env.BENCH_DUMP_VIA}`);
  if (process.env.BENCH_LEVEL) text = text.replace(/compressionLevel: .*/, `compressionLevel: ${process.env.BENCH_LEVEL}`);
  const inventoryFile = join(dir, 'ops.bench.yaml');
  writeFileSync(inventoryFile, text);
  const port = 3190 + (process.pid % 50);
  const env = {
    PATH: process.env.PATH,
    OPS_INVENTORY: inventoryFile,
    OPS_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/erp_ops_bench_backup',
    OPS_REDIS_PREFIX: `bench-backup:${process.pid}:`,
    ...benchState('backup'),
    OPS_SCHEDULER: 'false',
    OPS_LOG_LEVEL: 'warn',
    OPS_RATE_LIMIT_PER_MINUTE: '0',
    OPS_PORT: String(port),
    ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}),
  };
  const username = `bench${Date.now()}`;
  const password = 'bench-password-123456';
  execFileSync('node', [join(ROOT, 'dist/src/cli/migrate.js')], { env, stdio: 'ignore' });
  execFileSync('node', [join(ROOT, 'dist/src/cli/user.js'), 'create', '--username', username, '--role', 'admin', '--password-stdin'], {
    env,
    input: `${password}\n`,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn('node', [...nodeArgs, join(ROOT, 'dist/src/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await new Promise((resolve) =>
      http.get(`${base}/health`, { agent: false }, (r) => (r.resume(), resolve(r.statusCode === 200))).on('error', () => resolve(false)),
    );
    if (ok) break;
    if (i > 150) throw new Error('the control plane did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  // One connection per call (no keep-alive to go stale during the long baseline runs).
  const call = (method, path, headers, body) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        `${base}${path}`,
        { method, agent: false, headers: { 'content-type': 'application/json', ...headers } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            try {
              resolve(JSON.parse(text));
            } catch {
              reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`));
            }
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const token = (await call('POST', '/api/v1/auth/login', {}, JSON.stringify({ username, password }))).accessToken;
  const api = (method, path) => call(method, path, { authorization: `Bearer ${token}` }, method === 'POST' ? '{}' : undefined);
  const inventory = { backups: { dumpVia: /dumpVia: (\S+)/.exec(text)[1], compressionLevel: /compressionLevel: (\S+)/.exec(text)[1] } };

  console.log(
    `ERP database ${mb(size)} (large seed), ${ROUNDS} rounds, dumps via ${inventory.backups.dumpVia}, gzip -${inventory.backups.compressionLevel}`,
  );
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
        const rssBefore = rssOf(child.pid);
        let peak = rssBefore;
        const sampler = setInterval(() => (peak = Math.max(peak, rssOf(child.pid))), 50);
        const started = performance.now();
        const result = await api('POST', '/api/v1/backups?wait=true&waitSeconds=3600');
        const wall = performance.now() - started;
        clearInterval(sampler);
        if (result.run?.status !== 'succeeded') throw new Error(`backup failed: ${JSON.stringify(result).slice(0, 500)}`);
        ours.push(wall);
        peaks.push(peak);
        last = result.backup;
        console.log(
          `  round ${round}: control plane ${(wall / 1000).toFixed(1)} s (${mb(last.sizeBytes)} file), peak RSS ${mb(peak)} (before ${mb(rssBefore)})`,
        );
      }
      console.log(
        `  round ${round}: runbook pg_dump | gzip ${(runbook[runbook.length - 1] / 1000).toFixed(1)} s (${mb(statSync(`${dir}/runbook.sql.gz`).size)} file)`,
      );
      floor.push(sh(`docker exec erp-postgres pg_dump -U postgres ${DB} > /dev/null`));
    }
    // Restore: our drill's measured restore against zcat | psql -1 into an empty database.
    for (let round = 1; round <= (process.env.BENCH_SKIP_RESTORE ? 0 : ROUNDS); round++) {
      const verified = await api('POST', `/api/v1/backups/${last.id}/verify?wait=true&waitSeconds=3600`);
      if (verified.run?.status !== 'succeeded') throw new Error(`verify failed: ${JSON.stringify(verified).slice(0, 500)}`);
      restores.push(verified.backup.drillDurationMs);
      psql('DROP DATABASE IF EXISTS bench_restore WITH (FORCE)');
      psql('CREATE DATABASE bench_restore');
      baselineRestores.push(
        sh(
          `zcat ${dir}/${last.fileName} | docker exec -i erp-postgres psql -X -q -U postgres -v ON_ERROR_STOP=1 -1 -d bench_restore > /dev/null`,
        ),
      );
      psql('DROP DATABASE IF EXISTS bench_restore WITH (FORCE)');
      console.log(
        `  restore round ${round}: drill ${(restores[round - 1] / 1000).toFixed(1)} s, zcat | psql -1 ${(baselineRestores[round - 1] / 1000).toFixed(1)} s`,
      );
    }
    const r = median(ours) / median(runbook);
    console.log(
      `backup: control plane median ${(median(ours) / 1000).toFixed(1)} s, runbook pg_dump | gzip ${(median(runbook) / 1000).toFixed(1)} s, floor pg_dump > /dev/null ${(median(floor) / 1000).toFixed(1)} s`,
    );
    console.log(
      `backup wall-time ratio (control plane / runbook): ${r.toFixed(2)} (target <= 0.6; floor / runbook = ${(median(floor) / median(runbook)).toFixed(2)})`,
    );
    console.log(`control plane peak RSS during a backup: ${mb(Math.max(...peaks))} (target < 200 MB) for a ${mb(size)} database`);
    if (restores.length)
      console.log(
        `restore ratio (drill restore / zcat | psql -1): ${(median(restores) / median(baselineRestores)).toFixed(2)} (median ${(median(restores) / 1000).toFixed(1)} s vs ${(median(baselineRestores) / 1000).toFixed(1)} s; target <= 1.1)`,
      );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
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
