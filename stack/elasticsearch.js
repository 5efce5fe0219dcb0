'use strict';
// Stand-in of Elasticsearch 8 (single node, security off): the index APIs the control plane
// uses, with daily indices erp-{backend,postgres,nginx,syslog}-YYYY.MM.dd for the last 40
// days kept on disk (DATA_DIR/indices.json) so that a restart keeps them; today's indices grow.
const path = require('node:path');
const crypto = require('node:crypto');
const { startStandin, sendJson, sendText, readBody, readJson, writeJsonAtomic, prng, hashString } = require('./lib/standin');

const PORT = Number(process.env.PORT || 19200);
const DATA_DIR = process.env.DATA_DIR || '/data';
const DAYS = Number(process.env.ES_HISTORY_DAYS || 40);
const PREFIXES = ['erp-backend', 'erp-postgres', 'erp-nginx', 'erp-syslog'];
const STORE = path.join(DATA_DIR, 'indices.json');
const CLUSTER_UUID = 'q7CzOYbqTU2s0mzzErpStk';

const pad = (n) => String(n).padStart(2, '0');
const dayName = (prefix, d) => `${prefix}-${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())}`;

let indices = readJson(STORE, {});
let dirty = false;

function makeIndex(name, created, full) {
  const r = prng(hashString(name));
  const docs = full ? 20000 + Math.floor(r() * 80000) : 0;
  return { uuid: crypto.createHash('md5').update(name).digest('base64url').slice(0, 22), created, docs, bytes: docs * (380 + Math.floor(r() * 240)) + 225 };
}

/** Make sure the indices of the last DAYS days exist (new ones for days not yet seen). */
function ensureDailyIndices(now = new Date()) {
  const first = Object.keys(indices).length === 0;
  for (let back = first ? DAYS - 1 : 0; back >= 0; back--) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - back));
    for (const p of PREFIXES) {
      const name = dayName(p, d);
      if (!indices[name]) {
        indices[name] = makeIndex(name, d.getTime() + 60_000, back > 0);
        dirty = true;
      }
    }
  }
}

function persist() {
  if (!dirty) return;
  writeJsonAtomic(STORE, indices);
  dirty = false;
}

function growToday() {
  const today = new Date();
  for (const p of PREFIXES) {
    const idx = indices[dayName(p, today)];
    if (!idx) continue;
    const add = 5 + Math.floor(Math.random() * 20);
    idx.docs += add;
    idx.bytes += add * 450;
    dirty = true;
  }
}

const esError = (type, reason, status, extra = {}) => ({
  error: { root_cause: [{ type, reason, ...extra }], type, reason, ...extra },
  status,
});
const notFound = (name) =>
  esError('index_not_found_exception', `no such index [${name}]`, 404, { 'resource.type': 'index_or_alias', 'resource.id': name, index_uuid: '_na_', index: name });

const globToRe = (g) => new RegExp('^' + g.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');

/** Resolve an index expression (comma list, wildcards) like ES does for read APIs. */
function resolve(expr) {
  if (!expr || expr === '_all' || expr === '*') return { names: Object.keys(indices).sort() };
  const names = new Set();
  for (const part of expr.split(',')) {
    if (part.includes('*')) {
      const re = globToRe(part);
      Object.keys(indices).filter((n) => re.test(n)).forEach((n) => names.add(n));
    } else if (indices[part]) names.add(part);
    else return { missing: part };
  }
  return { names: [...names].sort() };
}

function human(bytes) {
  const units = ['b', 'kb', 'mb', 'gb', 'tb'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v}b` : `${v.toFixed(1)}${units[u]}`;
}

function catRow(name, bytesRaw) {
  const i = indices[name];
  const size = bytesRaw ? String(i.bytes) : human(i.bytes);
  return {
    health: 'green',
    status: 'open',
    index: name,
    uuid: i.uuid,
    pri: '1',
    rep: '0',
    'docs.count': String(i.docs),
    'docs.deleted': '0',
    'store.size': size,
    'pri.store.size': size,
    'creation.date': String(i.created),
    'creation.date.string': new Date(i.created).toISOString(),
  };
}

const DEFAULT_CAT = ['health', 'status', 'index', 'uuid', 'pri', 'rep', 'docs.count', 'docs.deleted', 'store.size', 'pri.store.size'];

function catIndices(res, expr, q) {
  const r = resolve(expr);
  if (r.missing) return sendJson(res, 404, notFound(r.missing));
  const cols = q.get('h') ? q.get('h').split(',') : DEFAULT_CAT;
  let rows = r.names.map((n) => catRow(n, q.get('bytes') === 'b'));
  const sort = q.get('s');
  if (sort) {
    const [key, dir] = sort.split(',')[0].split(':');
    const num = ['docs.count', 'store.size', 'pri.store.size', 'creation.date'].includes(key) && q.get('bytes') === 'b';
    rows.sort((a, b) => (num ? Number(a[key]) - Number(b[key]) : String(a[key]).localeCompare(String(b[key]))) * (dir === 'desc' ? -1 : 1));
  }
  rows = rows.map((row) => Object.fromEntries(cols.map((c) => [c, row[c] ?? null])));
  if (q.get('format') === 'json') return sendJson(res, 200, rows);
  const lines = rows.map((row) => cols.map((c) => row[c]).join(' '));
  if (q.has('v')) lines.unshift(cols.join(' '));
  return sendText(res, 200, lines.join('\n') + (lines.length ? '\n' : ''));
}

function clusterHealth(faults) {
  const n = Object.keys(indices).length;
  const red = Boolean(faults.unhealthy);
  return {
    cluster_name: 'erp-cluster',
    status: red ? 'red' : 'green',
    timed_out: false,
    number_of_nodes: 1,
    number_of_data_nodes: 1,
    active_primary_shards: red ? 0 : n,
    active_shards: red ? 0 : n,
    relocating_shards: 0,
    initializing_shards: 0,
    unassigned_shards: red ? n : 0,
    delayed_unassigned_shards: 0,
    number_of_pending_tasks: 0,
    number_of_in_flight_fetch: 0,
    task_max_waiting_in_queue_millis: 0,
    active_shards_percent_as_number: red ? 0 : 100,
  };
}

const RANK = { red: 0, yellow: 1, green: 2 };

ensureDailyIndices();
persist();

const standin = startStandin({
  name: 'elasticsearch',
  port: PORT,
  healthPaths: ['/'],
  errorResponse: (req, res, status) => sendJson(res, status, esError('cluster_block_exception', 'injected fault', status)),
  health: (req, res, ctx) => {
    if (ctx.faults.unhealthy) return sendJson(res, 503, esError('master_not_discovered_exception', null, 503));
    return sendJson(res, 200, {
      name: 'erp-es-node-1',
      cluster_name: 'erp-cluster',
      cluster_uuid: CLUSTER_UUID,
      version: { number: '8.11.3', build_flavor: 'default', build_type: 'docker', lucene_version: '9.8.0', minimum_wire_compatibility_version: '7.17.0', minimum_index_compatibility_version: '7.0.0' },
      tagline: 'You Know, for Search',
    });
  },
  handle: async (req, res, { pathname, url, faults }) => {
    const q = url.searchParams;
    const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (req.method === 'GET' && parts[0] === '_cluster' && parts[1] === 'health') {
      const body = clusterHealth(faults);
      const want = q.get('wait_for_status');
      if (want && RANK[body.status] < RANK[want]) {
        await new Promise((r) => setTimeout(r, Math.min(parseInt(q.get('timeout') || '30', 10) * 1000 || 30000, 5000)));
        return sendJson(res, 408, { ...body, timed_out: true });
      }
      return sendJson(res, 200, body);
    }
    if (req.method === 'GET' && parts[0] === '_cat' && parts[1] === 'indices') return catIndices(res, parts[2], q);
    if (req.method === 'GET' && parts[0] === '_cat' && parts[1] === 'health') {
      const h = clusterHealth(faults);
      return q.get('format') === 'json' ? sendJson(res, 200, [{ cluster: h.cluster_name, status: h.status }]) : sendText(res, 200, `${Math.floor(Date.now() / 1000)} erp-cluster ${h.status}\n`);
    }
    if (parts.length === 2 && parts[1] === '_count' && (req.method === 'GET' || req.method === 'POST')) {
      const r = resolve(parts[0]);
      if (r.missing) return sendJson(res, 404, notFound(r.missing));
      const count = r.names.reduce((s, n) => s + indices[n].docs, 0);
      return sendJson(res, 200, { count, _shards: { total: r.names.length, successful: r.names.length, skipped: 0, failed: 0 } });
    }
    if (parts.length === 2 && parts[1] === '_doc' && req.method === 'POST') {
      const name = parts[0];
      if (name.includes('*') || name.startsWith('_')) return sendJson(res, 400, esError('invalid_index_name_exception', `Invalid index name [${name}]`, 400));
      await readBody(req);
      if (!indices[name]) indices[name] = makeIndex(name, Date.now(), false);
      indices[name].docs++;
      indices[name].bytes += 450;
      dirty = true;
      return sendJson(res, 201, { _index: name, _id: crypto.randomUUID(), _version: 1, result: 'created', _shards: { total: 1, successful: 1, failed: 0 } });
    }
    if (parts.length === 1 && !parts[0].startsWith('_') || (parts.length === 1 && parts[0] === '_all')) {
      const expr = parts[0];
      if (req.method === 'DELETE') {
        const list = expr.split(',');
        // action.destructive_requires_name defaults to true since 8.0.
        if (list.some((n) => n === '_all' || n.includes('*'))) {
          return sendJson(res, 400, esError('illegal_argument_exception', 'Wildcard expressions or all indices are not allowed', 400));
        }
        const missing = list.find((n) => !indices[n]);
        if (missing) return sendJson(res, 404, notFound(missing));
        for (const n of list) delete indices[n];
        dirty = true;
        persist();
        standin.log('INFO', `deleted indices [${list.join(', ')}]`);
        return sendJson(res, 200, { acknowledged: true });
      }
      if (req.method === 'HEAD' || req.method === 'GET') {
        const r = resolve(expr);
        if (r.missing) return sendJson(res, 404, notFound(r.missing));
        if (req.method === 'HEAD') return sendText(res, 200, '');
        return sendJson(res, 200, Object.fromEntries(r.names.map((n) => [n, { aliases: {}, mappings: {}, settings: { index: { number_of_shards: '1', number_of_replicas: '0', uuid: indices[n].uuid, creation_date: String(indices[n].created), provided_name: n } } }])));
      }
    }
    return false;
  },
  notFound: (req, res, { pathname }) => sendJson(res, 400, esError('illegal_argument_exception', `request [${pathname}] contains unrecognized parameter or path`, 400)),
  onStop: persist,
});

standin.every(5000, () => {
  ensureDailyIndices();
  // Fault switch "noIngest": the logs stop flowing (today's indices stop growing).
  if (!standin.faults.state.noIngest) growToday();
  persist();
});
