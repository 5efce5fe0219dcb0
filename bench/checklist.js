#!/usr/bin/env node
/**
 * Benchmark (issue 4): the daily checklist against the healthy stand-in stack, 30 runs.
 * Prints p50/p95 of its wall time and, as a ratio, that wall time over the sum of its
 * checks' own durations (the gain from running them concurrently; target <= 0.35). Then,
 * with one hanging dependency (the backend's /health accepts and never answers), p95 of
 * the wall time over the deadline (target <= 1.05).
 *
 *   npm run bench:checklist     (BENCH_RUNS=30; needs the stand-in stack: npm run stack:up)
 */
const { join } = require('node:path');
const { benchState } = require('./bench-state');
const { readFileSync } = require('node:fs');
const http = require('node:http');

const ROOT = join(__dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const dist = (p) => require(join(ROOT, 'dist/src', p));

function fault(body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: 18000,
        path: '/__fault',
        method: body ? 'POST' : 'DELETE',
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};

async function main() {
  const { loadAppConfig } = dist('config/app-config.js');
  const { parseInventory } = dist('config/inventory.loader.js');
  const { createLogger } = dist('common/logger.js');
  const { createApp } = dist('app.factory.js');
  const { ensureDatabase } = dist('infra/database/ensure-database.js');
  const { migrate } = dist('infra/database/migrator.js');
  const { ChecklistService } = dist('modules/health/checklist.service.js');

  const env = {
    ...process.env,
    OPS_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/erp_ops_bench',
    OPS_REDIS_PREFIX: 'bench:',
    ...benchState('erp_ops_bench'),
    OPS_SCHEDULER: 'false',
    OPS_LOG_LEVEL: 'warn',
  };
  const config = loadAppConfig(env);
  const file = join(ROOT, 'stack/ops.stack.yaml');
  const inventory = parseInventory(readFileSync(file, 'utf8'), file, env);
  await ensureDatabase(config.OPS_DATABASE_URL);
  await migrate(config.OPS_DATABASE_URL);
  const app = await createApp({ config, inventory, inventoryFile: file, logger: createLogger('warn') });
  const checklist = app.get(ChecklistService);
  try {
    await fault(null);
    // Warm-up: connections and pools, and two readings of the background stats sampler.
    await new Promise((r) => setTimeout(r, 11000));
    await checklist.run('manual', 'bench');
    const walls = [];
    const ratios = [];
    const notPassing = new Map();
    for (let i = 0; i < RUNS; i++) {
      const run = await checklist.run('manual', 'bench');
      walls.push(run.durationMs);
      ratios.push(run.durationMs / run.checksDurationMs);
      for (const item of run.items) if (item.verdict !== 'pass') notPassing.set(item.item, (notPassing.get(item.item) ?? 0) + 1);
    }
    await fault({ hang: true, match: '/health' });
    const hung = [];
    for (let i = 0; i < Math.max(5, Math.round(RUNS / 3)); i++) hung.push((await checklist.run('manual', 'bench')).durationMs);
    await fault(null);
    const deadline = inventory.schedules.checklistDeadlineMs;
    const red = [...notPassing].map(([item, n]) => `${item} ${n}x`).join(', ');
    console.log(`daily checklist against the healthy stand-in stack, ${RUNS} runs${red ? ` (items not green: ${red})` : ', all green'}`);
    console.log(`wall time p50 ${quantile(walls, 0.5)} ms, p95 ${quantile(walls, 0.95)} ms`);
    console.log(
      `wall / sum of the checks' own durations: p50 ${quantile(ratios, 0.5).toFixed(2)}, p95 ${quantile(ratios, 0.95).toFixed(2)} (target <= 0.35)`,
    );
    console.log(
      `one hanging dependency (backend /health), ${hung.length} runs: p95 wall ${quantile(hung, 0.95)} ms = ${(quantile(hung, 0.95) / deadline).toFixed(3)} x the ${deadline} ms deadline (target <= 1.05)`,
    );
  } finally {
    await fault(null).catch(() => undefined);
    await app.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
