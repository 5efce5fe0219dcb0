#!/usr/bin/env node
'use strict';
// A week of the ERP backend's request metrics, loaded into the stand-in's Prometheus.
//
//   node scripts/stack/history.js [--days 7] [--keep-file]
//   node scripts/stack/history.js --days 91 --step 300 [--data-dir DIR]   (long periods, see below)
//
// Writes the past 7 days (15 s resolution) of http_requests_total, api_errors_total and the
// http_request_duration_seconds histogram (default buckets) for 50 method/endpoint pairs (43 distinct endpoint paths), with labels
// job="erp-backend", instance="127.0.0.1:18000" (those of the live scrape), as OpenMetrics,
// then stops erp-prometheus, empties its data directory (live samples scraped so far are
// dropped), creates blocks there with `promtool tsdb create-blocks-from openmetrics`, and
// starts Prometheus again. Traffic follows a daily pattern (Asia/Jakarta business hours)
// and a weekly one (quiet weekends). Two incidents are placed at known times (UTC):
//   error burst:   two days before today, 03:00-03:20 UTC (10:00-10:20 WIB), 25 % 5xx
//   latency spike: three days before today, 07:00-07:30 UTC (14:00-14:30 WIB), latency x10
// Both are printed and written to stack/run/history.json with the loaded range.
//
// Long periods (the defaults above are unchanged by these options):
//   --step S       write the series every S seconds (a multiple of 15) instead of every 15 s,
//                  except one heartbeat: GET /health's http_requests_total stays at 15 s (its
//                  other series at S), so that samples counted per window against the 15 s
//                  scrape interval (a report's data coverage) find no gaps. 90 days at 300 s are
//                  ≈ 4.2 GB of OpenMetrics in 7 files of ≤ 690 MB (one per 18 h × S/15, one at
//                  a time; ≈ 2 min), not ≈ 55 GB.
//                  history.json then says stepSeconds S and heartbeat {endpoint, stepSeconds 15}.
//   --data-dir DIR load into DIR (emptied) for a Prometheus the caller runs and stops: the
//                  erp-prometheus container is neither stopped nor started (its 30 d retention
//                  would delete anything older on start), stack/run/history.json is not written;
//                  history.json is written beside DIR (dirname(DIR)/history.json) only.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const RUN_DIR = path.join(ROOT, 'stack/run');
const PROM_DATA = process.env.ERP_STACK_PROM_DATA || '/var/lib/erp-stack/prometheus';
const PROM_URL = process.env.ERP_STACK_PROM_URL || 'http://127.0.0.1:19090';
const JOB = 'erp-backend';
const INSTANCE = '127.0.0.1:18000';
const STEP = 15;
const CHUNK_HOURS = 18;
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const WIB = 7 * 3600; // Asia/Jakarta, UTC+7, no DST

// [method, endpoint, peak requests per second, median latency in seconds]
const ENDPOINTS = [
  ['GET', '/health', 0.2, 0.003], ['GET', '/api/v1/auth/me', 2.5, 0.015], ['POST', '/api/v1/auth/login', 0.3, 0.18],
  ['POST', '/api/v1/auth/refresh', 0.4, 0.02], ['GET', '/api/v1/users', 0.1, 0.04], ['GET', '/api/v1/products', 1.5, 0.06],
  ['GET', '/api/v1/products/{id}', 2.0, 0.02], ['POST', '/api/v1/products', 0.05, 0.08], ['PUT', '/api/v1/products/{id}', 0.08, 0.07],
  ['GET', '/api/v1/manufacturing-orders', 1.2, 0.12], ['GET', '/api/v1/manufacturing-orders/{id}', 1.6, 0.04],
  ['POST', '/api/v1/manufacturing-orders', 0.1, 0.15], ['PUT', '/api/v1/manufacturing-orders/{id}/state', 0.3, 0.09],
  ['GET', '/api/v1/work-orders', 1.0, 0.09], ['GET', '/api/v1/work-orders/{id}', 1.3, 0.03], ['POST', '/api/v1/work-orders/{id}/start', 0.4, 0.06],
  ['POST', '/api/v1/work-orders/{id}/finish', 0.4, 0.07], ['GET', '/api/v1/spks', 0.5, 0.08], ['GET', '/api/v1/spks/{id}', 0.6, 0.03],
  ['GET', '/api/v1/qt09/transfers', 0.9, 0.1], ['POST', '/api/v1/qt09/transfers', 0.7, 0.11], ['POST', '/api/v1/qt09/transfers/{id}/accept', 0.6, 0.09],
  ['GET', '/api/v1/qt09/line-occupancy', 1.8, 0.025], ['POST', '/api/v1/qt09/line-clearance/check', 0.7, 0.04],
  ['POST', '/api/v1/qt09/segregasi/acknowledge', 0.05, 0.05], ['GET', '/api/v1/qc/inspections', 0.6, 0.09], ['POST', '/api/v1/qc/inspections', 0.8, 0.06],
  ['GET', '/api/v1/qc/checkpoints', 0.4, 0.07], ['GET', '/api/v1/qc/pass-rate', 0.2, 0.35], ['GET', '/api/v1/stock/quants', 0.7, 0.14],
  ['GET', '/api/v1/stock/moves', 0.5, 0.2], ['POST', '/api/v1/stock/moves', 0.3, 0.08], ['GET', '/api/v1/purchase-orders', 0.3, 0.11],
  ['POST', '/api/v1/purchase-orders', 0.04, 0.13], ['GET', '/api/v1/bom/{product_id}', 0.4, 0.05], ['GET', '/api/v1/alerts', 0.8, 0.03],
  ['POST', '/api/v1/alerts/{id}/acknowledge', 0.06, 0.04], ['GET', '/api/v1/dashboard/summary', 1.1, 0.22], ['GET', '/api/v1/dashboard/production', 0.9, 0.3],
  ['GET', '/api/v1/reports/daily-production', 0.05, 0.8], ['GET', '/api/v1/reports/qc-summary', 0.04, 0.6], ['GET', '/api/v1/audit-logs', 0.1, 0.25],
  ['GET', '/api/v1/warehouse/locations', 0.2, 0.02], ['GET', '/api/v1/departments', 0.3, 0.01], ['GET', '/api/v1/ppic/schedule', 0.4, 0.18],
  ['GET', '/api/v1/embroidery/jobs', 0.3, 0.07], ['GET', '/api/v1/kanban/cards', 0.5, 0.05], ['GET', '/api/v1/notifications', 0.9, 0.02],
  ['GET', '/api/v1/reports/weekly-performance', 0.02, 1.2], ['POST', '/api/v1/materials/requests', 0.1, 0.09],
];

function args(argv) {
  const o = { days: 7, keepFile: false, step: STEP, dataDir: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--days') o.days = Number(argv[++i]);
    else if (argv[i] === '--keep-file') o.keepFile = true;
    else if (argv[i] === '--step') o.step = Number(argv[++i]);
    else if (argv[i] === '--data-dir') o.dataDir = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!(o.step >= STEP && o.step % STEP === 0)) throw new Error(`--step must be a multiple of ${STEP} (got ${o.step})`);
  return o;
}

function hash01(a, b) {
  let h = (Math.imul(a | 0, 2654435761) ^ Math.imul(b | 0, 40503)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 2246822507) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 3266489909) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

// Standard normal CDF (Abramowitz-Stegun 7.1.26).
function phi(x) {
  const t = 1 / (1 + 0.3275911 * Math.abs(x) / Math.SQRT2);
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t) * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/** Traffic factor 0..1 at unix time t: Jakarta business hours, quiet nights and weekends. */
function traffic(t) {
  const local = t + WIB;
  const hour = (local % 86400) / 3600;
  const dow = new Date(local * 1000).getUTCDay(); // 0 Sunday
  const day = 0.08 + 0.92 * (Math.exp(-((hour - 10) ** 2) / 6) * 0.95 + Math.exp(-((hour - 15) ** 2) / 5) * 0.85 + (hour > 7 && hour < 17 ? 0.15 : 0));
  const week = dow === 0 ? 0.25 : dow === 6 ? 0.55 : 1;
  return Math.min(1, day) * week;
}

function incidents(end) {
  const today = Math.floor(end / 86400) * 86400;
  const burstStart = today - 2 * 86400 + 3 * 3600;
  const spikeStart = today - 3 * 86400 + 7 * 3600;
  return {
    errorBurst: { start: burstStart, end: burstStart + 20 * 60, errorRatio: 0.25, description: 'two days before today, 03:00-03:20 UTC (10:00-10:20 WIB): 25 % of requests answer 500 on every endpoint' },
    latencySpike: { start: spikeStart, end: spikeStart + 30 * 60, factor: 10, description: 'three days before today, 07:00-07:30 UTC (14:00-14:30 WIB): latencies x10 on every endpoint (p95 well above 1 s)' },
  };
}

// The time window [start, end) written to the current file, and whether buckets are needed.
const CURRENT_WINDOW = { start: 0, end: Infinity, buckets: true };

/** Simulate one endpoint from the start of the history; calls emit(kind, index, value) per step in time order. */
function simulate(ei, start, steps, inc, visit, win = CURRENT_WINDOW, step = STEP) {
  const [, , peak, median] = ENDPOINTS[ei];
  const sigma = 0.55;
  const mean = median * Math.exp((sigma * sigma) / 2);
  let cOk = 0, cErr = 0, cSum = 0;
  const cB = new Float64Array(BUCKETS.length);
  for (let s = 0; s < steps; s++) {
    const t = start + s * step;
    const noise = 0.85 + 0.3 * hash01(ei * 7919 + 1, s);
    const n = peak * traffic(t) * noise * step;
    const inBurst = t >= inc.errorBurst.start && t < inc.errorBurst.end;
    const inSpike = t >= inc.latencySpike.start && t < inc.latencySpike.end;
    const errRatio = inBurst ? inc.errorBurst.errorRatio : 0.0015 * (0.5 + hash01(ei * 104729 + 3, s));
    const lat = inSpike ? inc.latencySpike.factor : 1;
    cOk += n * (1 - errRatio);
    cErr += n * errRatio;
    cSum += n * mean * lat;
    const mu = Math.log(median * lat);
    if (win.buckets) for (let b = 0; b < BUCKETS.length; b++) cB[b] += n * phi((Math.log(BUCKETS[b]) - mu) / sigma);
    if (t >= win.end) break;
    if (t >= win.start) visit(t, Math.floor(cOk) + Math.floor(cErr), Math.floor(cErr), cSum, cB); // both parts monotonic
  }
}

class Out {
  constructor(file) {
    this.fd = fs.openSync(file, 'w');
    this.buf = [];
    this.len = 0;
  }
  line(s) {
    this.buf.push(s);
    this.len += s.length;
    if (this.len > 1 << 22) this.flush();
  }
  flush() {
    if (this.buf.length) fs.writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
    this.len = 0;
  }
  close() {
    this.flush();
    fs.closeSync(this.fd);
  }
}

// Every series at the step of --step, or the heartbeat endpoint's own (see the top).
const DEFAULT_LAYOUT = { step: STEP, heartbeat: -1 };

function writeOpenMetrics(file, start, steps, inc, winStart, winEnd, layout = DEFAULT_LAYOUT) {
  const out = new Out(file);
  // The heartbeat endpoint is simulated at 15 s; its series other than http_requests_total are
  // written on the --step grid only (same values as at 15 s: one simulation per endpoint).
  const sim = (ei) => (ei === layout.heartbeat ? { step: STEP, steps: (steps - 1) * (layout.step / STEP) + 1 } : { step: layout.step, steps });
  const written = (ei, t) => ei !== layout.heartbeat || (t - start) % layout.step === 0;
  CURRENT_WINDOW.start = winStart;
  CURRENT_WINDOW.end = winEnd;
  const base = `job="${JOB}",instance="${INSTANCE}"`;
  const families = [
    ['http_requests', 'counter', 'Total HTTP requests'],
    ['api_errors', 'counter', 'Total API errors'],
    ['http_request_duration_seconds', 'histogram', 'HTTP request duration in seconds'],
  ];
  for (const [fam, type, help] of families) {
    out.line(`# HELP ${fam} ${help}`);
    out.line(`# TYPE ${fam} ${type}`);
    CURRENT_WINDOW.buckets = type === 'histogram';
    for (let ei = 0; ei < ENDPOINTS.length; ei++) {
      const [method, endpoint] = ENDPOINTS[ei];
      const ep = `endpoint="${endpoint}"`;
      if (fam === 'http_requests') {
        const ok = [], bad = [];
        simulate(ei, start, sim(ei).steps, inc, (t, req, err) => {
          ok.push(`http_requests_total{${base},method="${method}",${ep},status="200"} ${req - err} ${t}`);
          bad.push(`http_requests_total{${base},method="${method}",${ep},status="500"} ${err} ${t}`);
        }, undefined, sim(ei).step);
        ok.forEach((l) => out.line(l));
        bad.forEach((l) => out.line(l));
      } else if (fam === 'api_errors') {
        // api_errors_total has no method label: one series per endpoint path.
        if (ENDPOINTS.findIndex((e) => e[1] === endpoint) !== ei) continue;
        const errs = new Float64Array(sim(ei).steps);
        const ts = [];
        ENDPOINTS.forEach((e, ej) => {
          if (e[1] !== endpoint) return;
          let s = 0;
          simulate(ej, start, sim(ej).steps, inc, (t, req, err) => {
            errs[s++] += err;
            if (ej === ei) ts.push(t);
          }, undefined, sim(ej).step);
        });
        ts.forEach((t, s) => written(ei, t) && out.line(`api_errors_total{${base},${ep},error_type="server_error"} ${errs[s]} ${t}`));
      } else {
        const series = BUCKETS.map(() => []);
        const inf = [], sum = [], count = [];
        const l = `${base},method="${method}",${ep}`;
        simulate(ei, start, sim(ei).steps, inc, (t, req, err, cSum, cB) => {
          if (!written(ei, t)) return;
          // Bucket counts never exceed the total and never decrease with le.
          let prev = 0;
          for (let b = 0; b < BUCKETS.length; b++) {
            const v = Math.max(prev, Math.min(req, Math.floor(cB[b])));
            series[b].push(`http_request_duration_seconds_bucket{${l},le="${BUCKETS[b]}"} ${v} ${t}`);
            prev = v;
          }
          inf.push(`http_request_duration_seconds_bucket{${l},le="+Inf"} ${req} ${t}`);
          sum.push(`http_request_duration_seconds_sum{${l}} ${cSum.toFixed(3)} ${t}`);
          count.push(`http_request_duration_seconds_count{${l}} ${req} ${t}`);
        }, undefined, sim(ei).step);
        for (const s of [...series, inf, sum, count]) s.forEach((x) => out.line(x));
      }
    }
  }
  out.line('# EOF');
  out.close();
}

/**
 * The counters (requests and 5xx of every method/endpoint pair) this generator writes, at given
 * unix times: the value of the last sample at or before each time, null before the first sample.
 * `info` is history.json's content (start, end, stepSeconds, errorBurst, latencySpike).
 * Tests compare the control plane's reports with these; the loaded data is not re-read.
 */
function countersAt(info, times) {
  const inc = { errorBurst: info.errorBurst, latencySpike: info.latencySpike };
  const sorted = [...times].sort((a, b) => a - b);
  return ENDPOINTS.map(([method, endpoint], ei) => {
    // A heartbeat endpoint (--step) is simulated at its own step.
    const hb = info.heartbeat && info.heartbeat.method === method && info.heartbeat.endpoint === endpoint;
    const step = hb ? info.heartbeat.stepSeconds : info.stepSeconds;
    const steps = Math.floor((info.end - info.start) / step) + 1;
    const at = new Map(sorted.map((t) => [t, null]));
    let k = 0;
    let last = null;
    simulate(ei, info.start, steps, inc, (t, req, err) => {
      while (k < sorted.length && sorted[k] < t) at.set(sorted[k++], last);
      last = { requests: req, errors: err };
    }, { start: 0, end: Infinity, buckets: false }, step);
    while (k < sorted.length) at.set(sorted[k++], last);
    return { method, endpoint, at: times.map((t) => at.get(t)) };
  });
}

/** Requests and 5xx per Asia/Jakarta calendar day of the loaded range (what history.json records). */
function dailyTotals(info) {
  const days = [];
  for (let d = Math.floor((info.start + WIB) / 86400) * 86400 - WIB; d <= info.end; d += 86400) days.push(d);
  // A day that starts before the first sample counts from it (its own value is no increase).
  const bounds = [...days, days[days.length - 1] + 86400].map((t) => Math.max(t, info.start));
  const counters = countersAt(info, bounds);
  return days.map((d, i) => {
    let requests = 0, errors5xx = 0;
    for (const c of counters) {
      const a = c.at[i], b = c.at[i + 1];
      requests += b.requests - a.requests;
      errors5xx += b.errors - a.errors;
    }
    return { date: new Date((d + WIB) * 1000).toISOString().slice(0, 10), requests, errors5xx, complete: d >= info.start && d + 86400 <= info.end + STEP };
  });
}

async function waitReady(timeoutMs = 90000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const res = await fetch(`${PROM_URL}/-/ready`);
      if (res.ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`Prometheus at ${PROM_URL} not ready after ${timeoutMs / 1000}s`);
}

async function main() {
  const o = args(process.argv.slice(2));
  const t0 = Date.now();
  const step = o.step;
  const coarse = step !== STEP;
  const end = Math.floor(Date.now() / 1000 / step) * step - step;
  const steps = Math.floor((o.days * 86400) / step);
  const start = end - (steps - 1) * step;
  const inc = incidents(end);
  // --step: GET /health's requests counter is the heartbeat, at 15 s.
  const heartbeat = coarse ? ENDPOINTS.findIndex(([m, e]) => m === 'GET' && e === '/health') : -1;
  const layout = coarse ? { step, heartbeat } : DEFAULT_LAYOUT;
  const promData = o.dataDir || PROM_DATA;
  const container = !o.dataDir; // the stand-in's Prometheus (stopped, loaded, started)
  fs.mkdirSync(RUN_DIR, { recursive: true });
  const file = container ? path.join(RUN_DIR, 'history.om') : path.join(path.dirname(promData), 'history.om');
  console.log(`[history] ${ENDPOINTS.length} endpoints, ${steps} steps of ${step}s from ${new Date(start * 1000).toISOString()} to ${new Date(end * 1000).toISOString()}`);
  if (coarse) console.log(`[history] heartbeat: GET /health's http_requests_total every ${STEP}s`);
  if (!container) console.log(`[history] into ${promData} (erp-prometheus untouched)`);
  if (container) execFileSync('docker', ['stop', '-t', '20', 'erp-prometheus'], { stdio: 'ignore' });
  try {
    fs.mkdirSync(promData, { recursive: true });
    for (const entry of fs.readdirSync(promData)) fs.rmSync(path.join(promData, entry), { recursive: true, force: true });
    // One file per 18 h window aligned like promtool's blocks (--max-block-duration=18h):
    // each file makes one block, and no file is larger than about 600 MB. (--step S: windows
    // S/15 times as long, as many samples per file.)
    const hours = (CHUNK_HOURS * step) / STEP;
    const W = hours * 3600;
    for (let w = Math.floor(start / W) * W; w <= end; w += W) {
      const t1 = Date.now();
      writeOpenMetrics(file, start, steps, inc, w, w + W, layout);
      const mb = (fs.statSync(file).size / 1e6).toFixed(0);
      execFileSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', `--max-block-duration=${hours}h`, file, promData], { stdio: ['ignore', 'ignore', 'inherit'] });
      console.log(`[history] ${new Date(Math.max(w, start) * 1000).toISOString()} .. ${new Date(Math.min(w + W, end + step) * 1000).toISOString()}: ${mb} MB of OpenMetrics loaded in ${((Date.now() - t1) / 1000).toFixed(0)}s`);
    }
  } finally {
    if (container) execFileSync('docker', ['start', 'erp-prometheus'], { stdio: 'ignore' });
  }
  if (container) await waitReady();
  if (!o.keepFile) fs.rmSync(file, { force: true });

  const iso = (s) => new Date(s * 1000).toISOString();
  const info = {
    loadedAt: new Date().toISOString(),
    job: JOB,
    instance: INSTANCE,
    stepSeconds: step,
    ...(coarse ? { heartbeat: { method: ENDPOINTS[heartbeat][0], endpoint: ENDPOINTS[heartbeat][1], series: 'http_requests_total', stepSeconds: STEP } } : {}),
    start, end, startIso: iso(start), endIso: iso(end),
    endpoints: ENDPOINTS.map(([method, endpoint]) => ({ method, endpoint })),
    errorBurst: { ...inc.errorBurst, startIso: iso(inc.errorBurst.start), endIso: iso(inc.errorBurst.end) },
    latencySpike: { ...inc.latencySpike, startIso: iso(inc.latencySpike.start), endIso: iso(inc.latencySpike.end) },
  };
  // Counter values from the first sample on (the first sample's own value is not an increase).
  info.dailyTotalsWib = dailyTotals(info);
  if (container) fs.writeFileSync(path.join(RUN_DIR, 'history.json'), JSON.stringify(info, null, 2) + '\n');
  // A copy beside Prometheus's data: whichever checkout loaded the data, this says what it holds.
  fs.writeFileSync(path.join(path.dirname(promData), 'history.json'), JSON.stringify(info, null, 2) + '\n');
  console.log(`[history] error burst:   ${info.errorBurst.startIso} .. ${info.errorBurst.endIso}`);
  console.log(`[history] latency spike: ${info.latencySpike.startIso} .. ${info.latencySpike.endIso}`);
  console.log(`[history] done in ${((Date.now() - t0) / 1000).toFixed(0)}s; details in ${container ? 'stack/run/history.json' : path.join(path.dirname(promData), 'history.json')}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`[history] failed: ${err.message}`);
    process.exit(1);
  });
}

module.exports = { ENDPOINTS, STEP, countersAt, dailyTotals };
