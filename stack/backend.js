'use strict';
// Stand-in of the ERP backend (FastAPI in the real stack): /health, a handful of /api/v1
// routes, /metrics with the ERP's metric names, and a small built-in load generator.
const http = require('node:http');
const { startStandin, sendJson, sendText, prng } = require('./lib/standin');

const PORT = Number(process.env.PORT || 18000);
// Like the real backend (SQLAlchemy's engine is built from it at import): no DATABASE_URL, no start.
if (!process.env.DATABASE_URL) {
  process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), level: 'FATAL', service: 'backend', message: 'DATABASE_URL is not set: cannot create the database engine' }) + '\n');
  process.exit(1);
}
const LOAD_RPS = Number(process.env.LOADGEN_RPS || 4);
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const rand = prng(Number(process.env.SEED || 42));

// ---- metrics --------------------------------------------------------------------------
const requests = new Map(); // key method|endpoint|status -> count
const durations = new Map(); // key method|endpoint -> {buckets[], sum, count}
const apiErrors = new Map(); // key endpoint|error_type -> count
const business = {
  lineClearanceViolations: 0,
  handshakeFailures: 0,
  qcDefects: 0,
  qcInspections: 0,
  moLastUpdate: Date.now() / 1000,
};

function inc(map, key, by = 1) {
  map.set(key, (map.get(key) || 0) + by);
}

function observe(method, endpoint, status, seconds) {
  inc(requests, `${method}|${endpoint}|${status}`);
  const key = `${method}|${endpoint}`;
  let h = durations.get(key);
  if (!h) {
    h = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 };
    durations.set(key, h);
  }
  BUCKETS.forEach((b, i) => {
    if (seconds <= b) h.buckets[i]++;
  });
  h.sum += seconds;
  h.count++;
  if (status >= 400) inc(apiErrors, `${endpoint}|${status >= 500 ? 'server_error' : status === 401 ? 'unauthorized' : 'client_error'}`);
}

const esc = (v) => String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function renderMetrics() {
  const out = [];
  out.push('# HELP http_requests_total Total HTTP requests', '# TYPE http_requests_total counter');
  for (const [k, v] of requests) {
    const [method, endpoint, status] = k.split('|');
    out.push(`http_requests_total{method="${method}",endpoint="${esc(endpoint)}",status="${status}"} ${v}`);
  }
  out.push('# HELP http_request_duration_seconds HTTP request duration in seconds', '# TYPE http_request_duration_seconds histogram');
  for (const [k, h] of durations) {
    const [method, endpoint] = k.split('|');
    const l = `method="${method}",endpoint="${esc(endpoint)}"`;
    BUCKETS.forEach((b, i) => out.push(`http_request_duration_seconds_bucket{${l},le="${b}"} ${h.buckets[i]}`));
    out.push(`http_request_duration_seconds_bucket{${l},le="+Inf"} ${h.count}`);
    out.push(`http_request_duration_seconds_sum{${l}} ${h.sum}`);
    out.push(`http_request_duration_seconds_count{${l}} ${h.count}`);
  }
  out.push('# HELP api_errors_total Total API errors', '# TYPE api_errors_total counter');
  for (const [k, v] of apiErrors) {
    const [endpoint, type] = k.split('|');
    out.push(`api_errors_total{endpoint="${esc(endpoint)}",error_type="${type}"} ${v}`);
  }
  const b = business;
  out.push(
    '# HELP qt09_line_clearance_violations_total QT-09 line clearance violations',
    '# TYPE qt09_line_clearance_violations_total counter',
    `qt09_line_clearance_violations_total ${b.lineClearanceViolations}`,
    '# HELP transfer_handshake_failures_total QT-09 transfer handshake failures',
    '# TYPE transfer_handshake_failures_total counter',
    `transfer_handshake_failures_total ${b.handshakeFailures}`,
    '# HELP manufacturing_order_last_update_timestamp Unix time of the last manufacturing order update',
    '# TYPE manufacturing_order_last_update_timestamp gauge',
    `manufacturing_order_last_update_timestamp ${b.moLastUpdate.toFixed(3)}`,
    '# HELP qc_defects_total QC defects found',
    '# TYPE qc_defects_total counter',
    `qc_defects_total ${b.qcDefects}`,
    '# HELP qc_inspections_total QC inspections performed',
    '# TYPE qc_inspections_total counter',
    `qc_inspections_total ${b.qcInspections}`,
    '# HELP metal_detector_failure_alert 1 while the final metal detector reports a failure',
    '# TYPE metal_detector_failure_alert gauge',
    // 1 while the fault switch metalDetectorFailure is set (a healthy detector reports 0).
    `metal_detector_failure_alert ${standin.faults.state.metalDetectorFailure ? 1 : 0}`,
    '# HELP process_start_time_seconds Start time of the process',
    '# TYPE process_start_time_seconds gauge',
    `process_start_time_seconds ${Math.floor(Date.now() / 1000 - process.uptime())}`,
  );
  return out.join('\n') + '\n';
}

// ---- routes ---------------------------------------------------------------------------
const DEPTS = ['CUTTING', 'EMBROIDERY', 'SEWING', 'FINISHING', 'PACKING'];
const products = Array.from({ length: 25 }, (_, i) => ({
  id: i + 1,
  code: `PRD-${String(i + 1).padStart(5, '0')}`,
  name: `Soft toy model ${i + 1}`,
  type: ['FINISH_GOOD', 'WIP', 'RAW_MATERIAL'][i % 3],
  uom: 'PCS',
}));

const routes = [
  ['GET', /^\/api\/v1\/auth\/me$/, '/api/v1/auth/me', (req) => {
    const auth = req.headers.authorization || '';
    if (!/^Bearer\s+\S+/.test(auth)) return [401, { detail: 'Not authenticated' }];
    return [200, { id: 1, username: 'admin', email: 'admin@qutykarunia.com', full_name: 'ERP Administrator', role: 'ADMIN', is_active: true }];
  }],
  ['GET', /^\/api\/v1\/products$/, '/api/v1/products', () => [200, { items: products, total: products.length }]],
  ['GET', /^\/api\/v1\/products\/(\d+)$/, '/api/v1/products/{id}', (req, m) => {
    const p = products[Number(m[1]) - 1];
    return p ? [200, p] : [404, { detail: 'Product not found' }];
  }],
  ['GET', /^\/api\/v1\/manufacturing-orders$/, '/api/v1/manufacturing-orders', () => {
    business.moLastUpdate = Date.now() / 1000;
    return [200, { items: [1, 2, 3].map((i) => ({ id: i, mo_number: `MO-2026-${String(i).padStart(4, '0')}`, state: 'IN_PROGRESS' })), total: 3 }];
  }],
  ['GET', /^\/api\/v1\/work-orders$/, '/api/v1/work-orders', () => [200, { items: DEPTS.map((d, i) => ({ id: i + 1, department: d, status: 'RUNNING' })), total: DEPTS.length }]],
  ['GET', /^\/api\/v1\/qt09\/line-occupancy$/, '/api/v1/qt09/line-occupancy', () => [200, DEPTS.map((d) => ({ dept_name: d, occupancy_status: 'CLEAR' }))]],
  ['POST', /^\/api\/v1\/qt09\/transfers$/, '/api/v1/qt09/transfers', () => {
    // QT-09 failures happen only under the fault switch "qt09Failures" (a healthy line has none).
    const qt09 = Number(standin.faults.state.qt09Failures || 0);
    if (qt09 > 0 && rand() < qt09) {
      business.handshakeFailures++;
      if (rand() < 0.5) business.lineClearanceViolations++;
      return [409, { detail: 'Line not clear: transfer BLOCKED' }];
    }
    return [201, { id: Math.floor(rand() * 1e6), status: 'INITIATED' }];
  }],
  ['POST', /^\/api\/v1\/qc\/inspections$/, '/api/v1/qc/inspections', () => {
    business.qcInspections++;
    const pass = rand() >= 0.01;
    if (!pass) business.qcDefects++;
    return [201, { id: business.qcInspections, type: 'FINAL_METAL_DETECTOR', status: pass ? 'PASS' : 'FAIL' }];
  }],
  ['GET', /^\/api\/v1\/alerts$/, '/api/v1/alerts', () => [200, { items: [], total: 0 }]],
  ['GET', /^\/api\/v1\/dashboard\/summary$/, '/api/v1/dashboard/summary', () => [200, { orders_in_progress: 3, lines: DEPTS.length }]],
];

function routeRequest(req, pathname) {
  for (const [method, re, endpoint, fn] of routes) {
    const m = re.exec(pathname);
    if (m && req.method === method) return { endpoint, fn, m };
  }
  return null;
}

const standin = startStandin({
  name: 'backend',
  port: PORT,
  healthPaths: ['/health'],
  health: (req, res, ctx) => {
    const timestamp = new Date().toISOString();
    if (ctx.faults.unhealthy) return sendJson(res, 503, { status: 'error', timestamp, detail: 'database connection failed (fault switch unhealthy)' });
    return sendJson(res, 200, { status: 'ok', timestamp });
  },
  errorResponse: (req, res, status, url) => {
    const r = routeRequest(req, url.pathname);
    if (r) observe(req.method, r.endpoint, status, 0.001);
    sendJson(res, status, { detail: 'Internal Server Error' });
  },
  handle: async (req, res, ctx) => {
    if (ctx.pathname === '/metrics' && req.method === 'GET') {
      return sendText(res, 200, renderMetrics(), 'text/plain; version=0.0.4; charset=utf-8');
    }
    const r = routeRequest(req, ctx.pathname);
    if (!r) return false;
    const started = process.hrtime.bigint();
    // Simulated work: a few milliseconds, occasionally longer.
    await new Promise((resolve) => setTimeout(resolve, 2 + Math.floor(rand() * (rand() < 0.05 ? 300 : 30))));
    const [status, body] = r.fn(req, r.m);
    const delay = Number(ctx.faults.delayMs || 0);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9 + delay / 1000;
    observe(req.method, r.endpoint, status, seconds);
    sendJson(res, status, body);
  },
});

// ---- load generator: real requests to this server, so metrics and faults move --------
const targets = [
  ['GET', '/api/v1/products'],
  ['GET', '/api/v1/products/7'],
  ['GET', '/api/v1/manufacturing-orders'],
  ['GET', '/api/v1/work-orders'],
  ['GET', '/api/v1/qt09/line-occupancy'],
  ['POST', '/api/v1/qt09/transfers'],
  ['POST', '/api/v1/qc/inspections'],
  ['GET', '/api/v1/alerts'],
  ['GET', '/api/v1/dashboard/summary'],
  ['GET', '/api/v1/auth/me'],
];
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
let inFlight = 0;
if (LOAD_RPS > 0) {
  standin.every(Math.max(20, Math.floor(1000 / LOAD_RPS)), () => {
    if (inFlight >= 8) return;
    const [method, path] = targets[Math.floor(rand() * targets.length)];
    inFlight++;
    const req = http.request({ host: '127.0.0.1', port: PORT, method, path, agent, timeout: 5000, headers: { authorization: 'Bearer loadgen' } }, (res) => {
      res.resume();
      res.on('end', () => inFlight--);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => inFlight--);
    req.end();
  });
}
