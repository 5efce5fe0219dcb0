'use strict';
// Shared HTTP server and fault-switch logic of the stand-ins (plain Node.js, built-ins only).
//
// Fault state lives in a JSON file (FAULT_FILE, default /faults/<name>.json) so that it
// survives a restart; it is re-read every 250 ms and can be changed either by writing the
// file or through the admin endpoint:
//   GET    /__fault            current state
//   POST   /__fault  {json}    replace the state ({} clears every switch)
//   DELETE /__fault            clear every switch
//   POST   /__crash            exit with status 1 now (a crash; Docker's restart policy applies)
// Switches (all optional):
//   delayMs: N          answer every request N ms late (slow responses)
//   status: 5xx         answer with that HTTP status (errorRate: 0..1 of requests, default 1)
//   unhealthy: true|"degraded"|...   the health endpoint reports unhealthy
//   crashOnStart: true  the process exits with status 1 right after start (crash loop)
//   hang: true          accept connections but never answer
//   logErrors: true     write an ERROR log line every second
//   match: "/prefix"    limit delayMs/status/hang to paths starting with this prefix
//   burnCpuPercent: N   a real CPU load: one worker thread per CPU, each busy N ms of every
//                       100 ms, so the machine is about N % busy; it stops by itself after
//                       burnSeconds (default 60, at most 300) or when the switch changes
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const ADMIN_PATH = '/__fault';

function log(name, level, message, extra) {
  const line = JSON.stringify({ ts: new Date().toISOString(), level, service: name, message, ...extra });
  if (level === 'ERROR' || level === 'FATAL') process.stderr.write(line + '\n');
  else process.stdout.write(line + '\n');
}

function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return fallback;
  }
}

/** Write a file atomically (write to a temp file, then rename). */
function writeJsonAtomic(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

function sendJson(res, status, body, headers = {}) {
  if (res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendText(res, status, text, contentType = 'text/plain; charset=UTF-8') {
  if (res.writableEnded) return;
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

class FaultSwitches {
  constructor(name, file) {
    this.name = name;
    this.file = file;
    this.state = {};
    this.mtime = 0;
    this.reload();
  }

  reload() {
    let mtime = 0;
    try {
      mtime = fs.statSync(this.file).mtimeMs;
    } catch {
      mtime = -1;
    }
    if (mtime === this.mtime) return;
    this.mtime = mtime;
    const next = mtime < 0 ? {} : readJson(this.file, this.state);
    if (JSON.stringify(next) !== JSON.stringify(this.state)) {
      log(this.name, 'INFO', 'fault switches changed', { faults: next });
    }
    this.state = next && typeof next === 'object' ? next : {};
  }

  set(state) {
    this.state = state && typeof state === 'object' ? state : {};
    writeJsonAtomic(this.file, this.state);
    this.mtime = fs.statSync(this.file).mtimeMs;
    log(this.name, 'INFO', 'fault switches set', { faults: this.state });
  }

  appliesTo(pathname) {
    const m = this.state.match;
    return !m || pathname.startsWith(m);
  }
}

// One burner thread: busy `duty` ms of every 100 ms until `seconds` have passed.
const BURNER = `
const { workerData } = require('node:worker_threads');
const pause = new Int32Array(new SharedArrayBuffer(4));
const until = Date.now() + workerData.seconds * 1000;
while (Date.now() < until) {
  const end = Date.now() + workerData.duty;
  while (Date.now() < end) {}
  if (workerData.duty < 100) Atomics.wait(pause, 0, 0, 100 - workerData.duty);
}`;

/** The burnCpuPercent switch: started when it is set or changed, stopped when it is cleared. */
class CpuBurn {
  constructor(name) {
    this.name = name;
    this.key = '';
    this.workers = [];
  }

  apply(state) {
    const key = JSON.stringify([state.burnCpuPercent ?? null, state.burnSeconds ?? null]);
    if (key === this.key) return;
    this.key = key;
    this.stop();
    const percent = Number(state.burnCpuPercent || 0);
    if (!(percent > 0)) return;
    const duty = Math.min(100, Math.max(1, Math.round(percent)));
    const seconds = Math.min(300, Math.max(1, Number(state.burnSeconds || 60)));
    const threads = Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length);
    this.workers = Array.from({ length: threads }, () => new Worker(BURNER, { eval: true, workerData: { duty, seconds } }));
    for (const w of this.workers) w.on('error', () => undefined);
    log(this.name, 'WARN', `burning CPU: ${this.workers.length} thread(s) busy ${duty} % for ${seconds} s (fault switch burnCpuPercent)`);
  }

  stop() {
    for (const w of this.workers) w.terminate();
    this.workers = [];
  }
}

/**
 * Start a stand-in.
 * options: name, port, host (default 127.0.0.1), faultFile, health(req, res, faults) for the
 * health route(s), healthPaths (array), handle(req, res, ctx) -> false when no route matched,
 * onStop() for cleanup.
 */
function startStandin(options) {
  const name = options.name;
  const host = options.host || process.env.LISTEN_HOST || '127.0.0.1';
  const port = Number(options.port);
  const faultFile = options.faultFile || process.env.FAULT_FILE || `/faults/${name}.json`;
  const faults = new FaultSwitches(name, faultFile);

  if (faults.state.crashOnStart) {
    log(name, 'FATAL', 'crash-on-start fault switch is set: exiting with status 1', { faultFile });
    process.exit(1);
  }

  const sockets = new Set();
  const onRequest = async (req, res) => {
    const url = new URL(req.url, `http://${req.headers.host || '127.0.0.1'}`);
    const pathname = url.pathname;
    try {
      if (pathname === ADMIN_PATH) return await handleAdmin(req, res, faults);
      if (pathname === '/__crash' && req.method === 'POST') {
        log(name, 'FATAL', 'crash requested through /__crash: exiting with status 1');
        sendJson(res, 202, { crashing: true });
        return setTimeout(() => process.exit(1), 20);
      }
      faults.reload();
      const f = faults.state;
      const applies = faults.appliesTo(pathname);
      if (f.hang && applies) return; // accept, never answer
      if (f.delayMs && applies) await new Promise((r) => setTimeout(r, Number(f.delayMs)));
      if (f.status && applies && Math.random() < (f.errorRate === undefined ? 1 : Number(f.errorRate))) {
        log(name, 'ERROR', `injected HTTP ${f.status} on ${req.method} ${pathname}`);
        if (options.errorResponse) return options.errorResponse(req, res, Number(f.status), url);
        return sendJson(res, Number(f.status), { error: 'injected fault', status: Number(f.status) });
      }
      const ctx = { url, pathname, faults: f, name };
      if ((options.healthPaths || []).includes(pathname) && options.health) {
        return await options.health(req, res, ctx);
      }
      const handled = await options.handle(req, res, ctx);
      if (handled === false) {
        if (options.notFound) return options.notFound(req, res, ctx);
        sendJson(res, 404, { error: 'not found', path: pathname });
      }
    } catch (err) {
      log(name, 'ERROR', `request failed: ${err && err.message}`, { path: pathname });
      sendJson(res, 500, { error: 'internal error' });
    }
  };

  const server = http.createServer(onRequest);
  server.keepAliveTimeout = 5000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(port, host, () => log(name, 'INFO', `listening on ${host}:${port}`));

  const timers = [];
  const every = (ms, fn) => {
    const t = setInterval(fn, ms);
    timers.push(t);
    return t;
  };
  const burn = new CpuBurn(name);
  every(250, () => {
    faults.reload();
    burn.apply(faults.state);
  });
  every(1000, () => {
    if (faults.state.logErrors) {
      log(name, 'ERROR', `simulated error: ${typeof faults.state.logErrors === 'string' ? faults.state.logErrors : 'connection to upstream failed (fault switch logErrors)'}`);
    }
  });

  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    log(name, 'INFO', `${signal} received, shutting down`);
    timers.forEach(clearInterval);
    burn.stop();
    if (options.onStop) {
      try {
        options.onStop();
      } catch (err) {
        log(name, 'ERROR', `cleanup failed: ${err.message}`);
      }
    }
    server.close();
    for (const s of sockets) s.destroy();
    setTimeout(() => process.exit(0), 50).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  return { server, faults, every, log: (level, msg, extra) => log(name, level, msg, extra) };
}

async function handleAdmin(req, res, faults) {
  if (req.method === 'GET') return sendJson(res, 200, faults.state);
  if (req.method === 'DELETE') {
    faults.set({});
    return sendJson(res, 200, faults.state);
  }
  if (req.method === 'POST' || req.method === 'PUT') {
    let body;
    try {
      const text = await readBody(req);
      body = text.trim() ? JSON.parse(text) : {};
    } catch (err) {
      return sendJson(res, 400, { error: `invalid JSON body: ${err.message}` });
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) return sendJson(res, 400, { error: 'body must be a JSON object' });
    faults.set(body);
    return sendJson(res, 200, faults.state);
  }
  return sendJson(res, 405, { error: 'method not allowed' });
}

/** Small deterministic PRNG (mulberry32). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashString(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

module.exports = { startStandin, sendJson, sendText, readBody, readJson, writeJsonAtomic, prng, hashString, log };
