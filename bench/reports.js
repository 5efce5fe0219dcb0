#!/usr/bin/env node
/**
 * Benchmark (issue 7): the performance report's wall time against the time Prometheus takes to
 * answer the same queries issued one after another by a plain HTTP client, in the same run.
 * Target ratio <= 1.0 (the report's queries run concurrently and nothing is computed twice).
 *
 *   Periods: the last 7 whole days and the last 90 whole days (Asia/Jakarta), alternating which
 *   goes first, BENCH_ROUNDS rounds (default 3) after one warm-up round; medians.
 *   (a) POST /admin/reports/performance with all five sections → client wall time (and the
 *       report's own durationMs and per-query durations);
 *   (b) every query of that report's source.queries (promql, start, end, step, as the report
 *       asked them: one request per query over its whole range), POSTed form-encoded to
 *       /api/v1/query_range one after another by node:http (keep-alive), each answer parsed
 *       with JSON.parse → wall time.
 *
 *   History: 91 days (the 90 whole days need the part of today before them too) at a 300 s
 *   step with GET /health's requests counter at 15 s (scripts/stack/history.js --days 91
 *   --step 300 --data-dir …), loaded into a Prometheus this benchmark runs itself (the stand-in's
 *   binary, 127.0.0.1:19190, retention 120 d, the stand-in's scrape of the backend): the
 *   stand-in's erp-prometheus keeps 30 days (--storage.tsdb.retention.time=30d), and deletes any
 *   older block when it starts. At the end the default week is loaded into the stand-in's
 *   Prometheus again (node scripts/stack/history.js) unless /var/lib/erp-stack/history.json says
 *   it holds it, loaded less than 12 hours ago; then the 7-day period is measured against it too.
 *
 *   BENCH_ROUNDS=3 flock /tmp/erp-stack.lock npm run bench:reports
 *   (BENCH_DIST=dist-bench to start a build made elsewhere; BENCH_HISTORY_DAYS, BENCH_HISTORY_STEP;
 *   BENCH_PROM_URL with BENCH_PROM_PID: a Prometheus of the caller's that holds the history
 *   already (loaded with history.js --data-dir), for repeated runs; BENCH_STANDIN_WEEK=0 skips
 *   the stand-in's week)
 */
const { join } = require('node:path');
const { benchState } = require('./bench-state');
const { readFileSync, writeFileSync, mkdirSync, rmSync, existsSync } = require('node:fs');
const { execFileSync, spawn } = require('node:child_process');
const http = require('node:http');

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, process.env.BENCH_DIST ?? 'dist');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const HISTORY_DAYS = Number(process.env.BENCH_HISTORY_DAYS ?? 91);
const HISTORY_STEP = Number(process.env.BENCH_HISTORY_STEP ?? 300);
const WORK = process.env.BENCH_PROM_DIR ?? '/var/lib/erp-stack/bench-reports';
const PROM_DATA = join(WORK, 'prometheus');
const PROM_PORT = Number(process.env.BENCH_PROM_PORT ?? 19190);
const PROM = `http://127.0.0.1:${PROM_PORT}`;
const DB = 'erp_ops_bench_reports';
const SECTIONS = ['response_times', 'error_rates', 'usage_patterns', 'availability', 'backups'];
const TZ = 'Asia/Jakarta';
const REUSE_URL = process.env.BENCH_PROM_URL;
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function request(url, { method = 'GET', headers = {}, body, agent = false } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitUntil(what, fn, ms = 120_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** YYYY-MM-DD of an instant in Jakarta, and date arithmetic on such strings. */
const localDate = (ms) =>
  new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
const addDays = (date, n) => new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

function startPrometheus() {
  const config = join(WORK, 'prometheus.yml');
  // As the stand-in's: 15 s scrapes of the backend (so that up{instance="127.0.0.1:18000"} exists).
  writeFileSync(
    config,
    "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\nscrape_configs:\n  - job_name: erp-backend\n    static_configs:\n      - targets: ['127.0.0.1:18000']\n",
  );
  const child = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${PROM_DATA}`,
      '--storage.tsdb.retention.time=120d',
      `--web.listen-address=127.0.0.1:${PROM_PORT}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.on('data', (c) => (log = (log + c).slice(-4000)));
  child.log = () => log;
  return child;
}

/** CPU time (user + system, ms) a process has used so far (/proc/<pid>/stat, 100 ticks a second). */
const cpuMs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};

const stop = (child) =>
  child && child.exitCode === null && child.signalCode === null
    ? new Promise((r) => (child.once('exit', r), child.kill('SIGTERM')))
    : undefined;

/** Whether the stand-in's Prometheus holds the default week (loaded within maxAgeMs). */
function checkDefaultWeek(maxAgeMs = 30 * 60_000) {
  const file = '/var/lib/erp-stack/history.json';
  if (!existsSync(file)) return { ok: false, text: `${file} missing` };
  const info = JSON.parse(readFileSync(file, 'utf8'));
  const span = info.end - info.start;
  const ok = info.stepSeconds === 15 && !info.heartbeat && span === 7 * 86400 - 15 && Date.now() - Date.parse(info.loadedAt) < maxAgeMs;
  return { ok, text: `${info.startIso} .. ${info.endIso}, step ${info.stepSeconds} s, loaded ${info.loadedAt}` };
}

/** The control plane in its own process (own database), against the Prometheus at promUrl. */
async function startControlPlane(promUrl, fresh) {
  const inventory = readFileSync(join(ROOT, 'stack/ops.stack.yaml'), 'utf8').replace(/^  prometheus: .*/m, `  prometheus: ${promUrl}`);
  const inventoryFile = join(WORK, 'ops.bench.yaml');
  writeFileSync(inventoryFile, inventory);
  const port = 3290 + (process.pid % 50);
  const env = {
    PATH: process.env.PATH,
    OPS_INVENTORY: inventoryFile,
    OPS_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? `postgres://postgres@127.0.0.1:5432/${DB}`,
    OPS_REDIS_PREFIX: `bench-reports:${process.pid}:`,
    ...benchState('reports'),
    OPS_SCHEDULER: 'false',
    OPS_LOG_LEVEL: 'warn',
    OPS_RATE_LIMIT_PER_MINUTE: '0',
    OPS_PORT: String(port),
  };
  const username = 'bench-reports';
  const password = 'bench-password-123456';
  if (fresh) {
    execFileSync(
      'psql',
      [
        '-X',
        '-q',
        'postgres://postgres@127.0.0.1:5432/postgres',
        '-c',
        `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`,
        '-c',
        `CREATE DATABASE ${DB}`,
      ],
      { stdio: 'ignore' },
    );
    execFileSync('node', [join(DIST, 'src/cli/migrate.js')], { env, stdio: 'ignore' });
    execFileSync('node', [join(DIST, 'src/cli/user.js'), 'create', '--username', username, '--role', 'admin', '--password-stdin'], {
      env,
      input: `${password}\n`,
      stdio: ['pipe', 'ignore', 'inherit'],
    });
  }
  const child = spawn('node', [join(DIST, 'src/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntil('the control plane', async () => (await request(`${base}/health`)).status === 200, 60_000);
    const login = await request(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    return { child, base, auth: { authorization: `Bearer ${JSON.parse(login.text).accessToken}` } };
  } catch (error) {
    await stop(child);
    throw error;
  }
}

/** Rounds of (a) the report and (b) its queries one after another, per period; prints medians. */
async function measure({ child, base, auth }, promUrl, promPid, periods) {
  const prom = { pid: promPid };
  const cpu = () => ({ cp: cpuMs(child.pid), prom: cpuMs(prom.pid) });
  const used = (from) => {
    const now = cpu();
    return { cp: now.cp - from.cp, prom: now.prom - from.prom };
  };
  const report = async (body) => {
    const c = cpu();
    const t = performance.now();
    const res = await request(`${base}/admin/reports/performance`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const ms = performance.now() - t;
    const cpuUsed = used(c);
    if (res.status !== 201) throw new Error(`report ${JSON.stringify(body)}: ${res.status} ${res.text.slice(0, 500)}`);
    return { ms, cpu: cpuUsed, bytes: Buffer.byteLength(res.text), doc: JSON.parse(res.text) };
  };
  // The plain client: one keep-alive connection, one request per query, one after another.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const one = async (q, via) => {
    const form = new URLSearchParams({
      query: q.promql,
      start: String(Date.parse(q.start) / 1000),
      end: String(Date.parse(q.end) / 1000),
      step: String(q.stepSeconds),
    }).toString();
    const t1 = performance.now();
    const res = await request(`${promUrl}/api/v1/query_range`, {
      method: 'POST',
      agent: via,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) },
      body: form,
    });
    if (res.status !== 200) throw new Error(`query_range ${q.promql}: ${res.status} ${res.text.slice(0, 300)}`);
    const data = JSON.parse(res.text).data;
    return {
      promql: q.promql,
      ms: performance.now() - t1,
      series: data.result.length,
      points: data.result.reduce((s, r) => s + r.values.length, 0),
    };
  };
  const replay = async (queries) => {
    const c = cpu();
    const t = performance.now();
    const each = [];
    for (const q of queries) each.push(await one(q, agent));
    return { ms: performance.now() - t, cpu: used(c), each };
  };
  // For comparison only: the same whole-range queries all at once (what concurrency alone gives here).
  const together = async (queries) => {
    const t = performance.now();
    await Promise.all(queries.map((q) => one(q, false)));
    return performance.now() - t;
  };
  // Reads of the control plane's own tables: a report of the backups section alone.
  const dbOnly = async (body) => (await report({ ...body, include: ['backups'] })).doc.durationMs;

  const results = Object.fromEntries(
    Object.keys(periods).map((p) => [
      p,
      { report: [], duration: [], promPhase: [], replay: [], dbOnly: [], together: [], cpu: [], last: null },
    ]),
  );
  const once = async (name, round) => {
    const body = { ...periods[name], include: SECTIONS };
    const r = await report(body);
    const doc = r.doc;
    const queries = doc.source.queries;
    const promPhase = Math.max(...queries.map((q) => q.durationMs));
    const p = await replay(queries);
    const db = await dbOnly(periods[name]);
    const all = await together(queries);
    const keys = queries.map((q) => `${q.promql}|${q.start}|${q.end}|${q.stepSeconds}`);
    const twice = keys.length - new Set(keys).size;
    console.log(
      `  ${round}: ${name} report ${secs(r.ms)} (durationMs ${doc.durationMs}, slowest query ${promPhase} ms, sum of queries ${queries.reduce((s, q) => s + q.durationMs, 0)} ms, ` +
        `${queries.length} queries, ${queries.reduce((s, q) => s + q.points, 0)} points, ${twice} asked twice, ${(r.bytes / 1e6).toFixed(2)} MB) | ` +
        `plain client ${secs(p.ms)} | ratio ${(r.ms / p.ms).toFixed(2)} | backups-only report ${db} ms | ` +
        `CPU during the report: control plane ${r.cpu.cp} ms, Prometheus ${r.cpu.prom} ms; during the plain client: Prometheus ${p.cpu.prom} ms | the same queries all at once ${secs(all)}`,
    );
    if (round !== 'warm-up') {
      const x = results[name];
      x.report.push(r.ms);
      x.duration.push(doc.durationMs);
      x.promPhase.push(promPhase);
      x.replay.push(p.ms);
      x.dbOnly.push(db);
      x.together.push(all);
      x.cpu.push({ cp: r.cpu.cp, prom: r.cpu.prom, promPlain: p.cpu.prom });
      x.last = { doc, replay: p };
    }
    return { doc, replay: p };
  };

  const names = Object.keys(periods);
  console.log(
    `periods (${TZ}): ${names.map((n) => `${n} ${periods[n].start_date} .. ${periods[n].end_date}`).join(', ')}; ${ROUNDS} rounds after a warm-up`,
  );
  for (const name of Object.keys(periods)) {
    const { doc } = await once(name, 'warm-up');
    const c = doc.dataCoverage;
    console.log(
      `    ${name}: coverage ${c.ratio} (${c.presentSamples}/${c.expectedSamples} samples, ${c.gaps.length} gaps${
        c.gaps.length
          ? `: ${c.gaps
              .slice(0, 3)
              .map((g) => `${g.from}..${g.to}`)
              .join(', ')}`
          : ''
      }), coverage step ${doc.source.coverageStepSeconds} s, ${doc.source.expectedSamplesPerCoverageStep} samples expected per step; requests ${doc.summary.requests}, p95 ${doc.summary.p95Seconds} s, error rate ${doc.summary.errorRatePercent} %; notes: ${doc.summary.notes.join(' ') || 'none'}`,
    );
  }
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 ? names : [...names].reverse();
    for (const name of order) await once(name, `round ${round}`);
  }
  agent.destroy();

  console.log('\nmedians:');
  for (const [name, x] of Object.entries(results)) {
    const wall = median(x.report);
    const dur = median(x.duration);
    const phase = median(x.promPhase);
    console.log(
      `${name}: report ${secs(wall)} (durationMs ${dur}: Prometheus part ${phase} ms, the rest ${dur - phase} ms = ${(((dur - phase) / wall) * 100).toFixed(0)} % of the wall time; ` +
        `outside durationMs ${(wall - dur).toFixed(0)} ms; backups-only report ${median(x.dbOnly)} ms), plain client ${secs(median(x.replay))}; ratio ${(wall / median(x.replay)).toFixed(2)} (target <= 1.0)`,
    );
    const slow = [...x.last.replay.each].sort((a, b) => b.ms - a.ms);
    const c = x.cpu;
    console.log(
      `   CPU (medians): during the report control plane ${median(c.map((v) => v.cp))} ms + Prometheus ${median(c.map((v) => v.prom))} ms; Prometheus during the plain client ${median(c.map((v) => v.promPlain))} ms; the plain client's queries all at once ${secs(median(x.together))} (${(median(x.together) / median(x.replay)).toFixed(2)} of one after another)`,
    );
    console.log(
      `   plain client, slowest: ${slow
        .slice(0, 3)
        .map((q) => `${q.ms.toFixed(0)} ms ${q.promql.slice(0, 70)} (${q.series} series, ${q.points} points)`)
        .join('; ')}`,
    );
    console.log(
      `   report's queries: ${x.last.doc.source.queries.map((q) => `${q.durationMs} ms ${q.points} points ${q.promql.slice(0, 60)}`).join('; ')}`,
    );
  }
}

async function main() {
  if (!existsSync(join(DIST, 'src/main.js'))) throw new Error(`${DIST}/src/main.js missing: build first (npm run build)`);
  let prom = null;
  let cp = null;
  const started = Date.now();
  const today = localDate(Date.now());
  const week = { start_date: addDays(today, -7), end_date: addDays(today, -1) };
  let defaultWeek = false;
  try {
    // ---- 90 days of history, into a Prometheus of our own ----
    let promUrl = PROM;
    let promPid;
    if (REUSE_URL) {
      // A Prometheus the caller runs, already holding the history (for repeated runs while tuning).
      promUrl = REUSE_URL;
      promPid = Number(process.env.BENCH_PROM_PID);
      if (!(promPid > 0)) throw new Error('BENCH_PROM_URL needs BENCH_PROM_PID (the Prometheus process, for its CPU time)');
      await waitUntil('the given Prometheus', async () => (await request(`${promUrl}/-/ready`)).status === 200, 60_000);
      console.log(`history: the Prometheus at ${promUrl} (pid ${promPid}), as loaded by its caller`);
    } else {
      mkdirSync(WORK, { recursive: true });
      const t0 = Date.now();
      execFileSync(
        'node',
        [join(ROOT, 'scripts/stack/history.js'), '--days', String(HISTORY_DAYS), '--step', String(HISTORY_STEP), '--data-dir', PROM_DATA],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      const loadMs = Date.now() - t0;
      prom = startPrometheus();
      promPid = prom.pid;
      await waitUntil("the benchmark's Prometheus", async () => (await request(`${PROM}/-/ready`)).status === 200, 180_000);
      const tsdbBytes = Number(execFileSync('du', ['-sb', PROM_DATA], { encoding: 'utf8' }).split('\t')[0]);
      const history = JSON.parse(readFileSync(join(WORK, 'history.json'), 'utf8'));
      console.log(
        `history: ${HISTORY_DAYS} days at ${HISTORY_STEP} s (+ heartbeat at 15 s) ${history.startIso} .. ${history.endIso}, loaded in ${(loadMs / 1000).toFixed(0)} s, TSDB ${(tsdbBytes / 1e6).toFixed(0)} MB`,
      );
    }
    cp = await startControlPlane(promUrl, true);
    await measure(cp, promUrl, promPid, { '7-day': week, '90-day': { start_date: addDays(today, -90), end_date: addDays(today, -1) } });
  } finally {
    await stop(cp?.child);
    await stop(prom);
    if (!REUSE_URL) rmSync(PROM_DATA, { recursive: true, force: true });
    // The test suites expect the default week in the stand-in's Prometheus; it is loaded again
    // unless it is there already, loaded less than 12 hours ago (as scripts/stack/ensure.sh does).
    try {
      const present = checkDefaultWeek(12 * 3600_000);
      if (present.ok) console.log(`\nthe stand-in's Prometheus holds the default week: ${present.text}`);
      else {
        console.log("\nloading the default week into the stand-in's Prometheus (node scripts/stack/history.js)");
        execFileSync('node', [join(ROOT, 'scripts/stack/history.js')], { stdio: ['ignore', 'inherit', 'inherit'] });
      }
      const check = checkDefaultWeek(12 * 3600_000);
      defaultWeek = check.ok;
      console.log(`/var/lib/erp-stack/history.json: ${check.text} → ${check.ok ? 'the default week' : 'NOT the default week'}`);
      if (!check.ok) process.exitCode = 1;
    } catch (error) {
      console.error(`reloading the default week failed: ${error.message}`);
      process.exitCode = 1;
    }
  }
  // The same 7 days against the stand-in's Prometheus and its default week (15 s samples; the
  // week starts 7 × 24 h before now, so the first local day is only partly covered).
  if (defaultWeek && process.env.BENCH_STANDIN_WEEK !== '0') {
    console.log("\nthe 7-day period against the stand-in's Prometheus (the default week, every series at 15 s):");
    const standIn = 'http://127.0.0.1:19090';
    await waitUntil("the stand-in's Prometheus", async () => (await request(`${standIn}/-/ready`)).status === 200, 120_000);
    const pid = Number(execFileSync('docker', ['inspect', '-f', '{{.State.Pid}}', 'erp-prometheus'], { encoding: 'utf8' }).trim());
    cp = await startControlPlane(standIn, false);
    try {
      await measure(cp, standIn, pid, { '7-day (default week)': week });
    } finally {
      await stop(cp.child);
    }
  }
  console.log(`benchmark done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
