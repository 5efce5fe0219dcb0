#!/usr/bin/env node
/**
 * Benchmark (issue 14): an alert storm into POST /api/v1/alerts/webhook, and the way from a
 * delivery to the first mail.
 *
 *   Storm: 1,000 alerts in 50 groups (20 each) delivered by 20 concurrent clients (closed
 *   loops, keep-alive) with an Alertmanager service token (scope alerts.receive). As
 *   Alertmanager does, each notification of a group carries every alert of the group firing
 *   so far: the j-th notification of a group holds its alerts 1..j; the groups' notifications
 *   are interleaved (all groups' 1st, then all 2nd, …): 1,000 deliveries. Then every payload
 *   is delivered once more (Alertmanager's retries), and the duplicates are counted in the
 *   database: incidents per group key (must be 1), alerts per fingerprint+startsAt (must be
 *   1), notifications stored more than once, first pages per incident and person (must be 1).
 *   Figures: intake p99, duplicates (must be 0), and intake throughput as a ratio against a
 *   bare Fastify route (bench/bare-webhook-server.js: the same zod schema, one INSERT per
 *   delivery into a table of its own) storming the same payloads in the same run
 *   (target >= 0.5). BENCH_ROUNDS rounds (default 3, fresh groups each), alternating which
 *   goes first, after a warm-up of both with a whole storm of its own; medians. Each round also
 *   prints when every alert of the storm was in an incident, and the CPU time per delivery of
 *   each server, of PostgreSQL and of Redis (from /proc: the machine's processes of that name)
 *   for the storm, the re-delivery (no incident work: authentication, validation, dedupe and
 *   the audit entry only) and the bare route.
 *
 *   Mail: BENCH_MAIL_SAMPLES (default 30) single-alert deliveries one after another, each a
 *   new P1 incident whose contact has only e-mail: time from the start of the delivery to
 *   the first mail accepted (end of DATA) by a real SMTP server (smtp-server, in this
 *   process), against a plain nodemailer send (createTransport + sendMail, as the notifier
 *   does it) of the same mail (same sender, recipient, subject and text) to the same server,
 *   alternating. p95 ratio (target <= 2). The storm's own time from each group's first
 *   delivery to its first mail is printed too (p50/p95, not a target).
 *
 *   npm run bench:incidents   (BENCH_ROUNDS=3, BENCH_MAIL_SAMPLES=30, BENCH_CLIENTS=20,
 *   BENCH_DATABASE_SERVER=postgres://postgres@127.0.0.1:5432; no stand-in stack needed)
 *
 * Everything listens on 127.0.0.1. The control plane runs as in production (node
 * dist/src/main.js, NODE_ENV=production, access log on into /dev/null, incident timers on,
 * rate limiting on with a limit the run cannot reach) against its own database
 * erp_ops_bench_incidents (dropped and made again at each run); Alertmanager's URL in its
 * inventory is a closed port, so the reconciliation never resolves the storm's alerts.
 */
const { join } = require('node:path');
const { benchState } = require('./bench-state');
const { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { execFileSync, spawn } = require('node:child_process');
const { tmpdir } = require('node:os');
const http = require('node:http');
const { SMTPServer } = require('smtp-server');
const nodemailer = require('nodemailer');
const yaml = require('js-yaml');
const { Client } = require('pg');

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, process.env.BENCH_DIST ?? 'dist');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SAMPLES = Number(process.env.BENCH_MAIL_SAMPLES ?? 30);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 20);
const GROUPS = 50;
const PER_GROUP = 20;
const SERVER = process.env.BENCH_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
const DB = 'erp_ops_bench_incidents';
const PASSWORD = 'bench-password-123456';
const FROM = { name: 'ERP ops', address: 'erp-ops@qutykarunia.com' }; // ops.example.yaml's notifications.from*

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};
const median = (v) => quantile(v, 0.5);
const ms = (v) => `${v.toFixed(1)} ms`;

async function waitUntil(what, fn, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** One keep-alive agent per target, as many sockets as clients. */
function client(base) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  return (method, path, headers, body) =>
    new Promise((resolve, reject) => {
      const req = http.request(`${base}${path}`, { method, agent, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode, body: parsed });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
}

/** The SMTP server: records when each message's DATA ended (accepted), and who waits for which subject. */
async function startSmtp() {
  const waiters = [];
  const accepted = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        const at = performance.now();
        callback();
        const head = Buffer.concat(chunks)
          .toString('utf8')
          .split(/\r?\n\r?\n/)[0];
        const subject = (/^Subject: (.*(?:\r?\n[ \t].*)*)/im.exec(head)?.[1] ?? '').replace(/\r?\n[ \t]/g, ' ');
        accepted.push({ at, subject });
        for (let i = 0; i < waiters.length; i++) {
          if (subject.includes(waiters[i].match)) {
            const [w] = waiters.splice(i, 1);
            w.resolve({ at, subject });
            break;
          }
        }
      });
    },
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `smtp://127.0.0.1:${server.server.address().port}`,
    accepted,
    /** The next accepted message whose subject contains `match`. */
    next: (match) => new Promise((resolve) => waiters.push({ match, resolve })),
    close: () => new Promise((r) => server.close(r)),
  };
}

function psql(database, sql) {
  execFileSync('psql', ['-X', '-q', `${SERVER}/${database}`, ...sql.flatMap((s) => ['-c', s])], { stdio: 'ignore' });
}

/** The inventory: the example's, with the SMTP server, no chat, one P1 contact (mail only), Alertmanager unreachable. */
function inventoryFile(dir, smtpUrl) {
  const doc = yaml.load(readFileSync(join(ROOT, 'ops.example.yaml'), 'utf8'));
  doc.notifications.smtpUrl = smtpUrl;
  doc.notifications.chatWebhookUrl = '';
  doc.urls.alertmanager = 'http://127.0.0.1:9';
  doc.incidents = {
    people: [{ id: 'budi', name: 'Budi (senior dev)', username: 'bench', email: 'budi@bench.test' }],
    levels: { P1: ['person:budi'], P2: ['person:budi'], P3: ['person:budi'] },
    publicUrl: 'http://127.0.0.1:3100',
  };
  const file = join(dir, 'ops.bench-incidents.yaml');
  writeFileSync(file, yaml.dump(doc));
  return file;
}

async function startControlPlane(dir, smtpUrl) {
  psql('postgres', [`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`, `CREATE DATABASE ${DB}`]);
  const port = 3290 + (process.pid % 50);
  const env = {
    PATH: process.env.PATH,
    OPS_INVENTORY: inventoryFile(dir, smtpUrl),
    OPS_DATABASE_URL: `${SERVER}/${DB}`,
    OPS_REDIS_PREFIX: `bench-incidents:${process.pid}:`,
    ...benchState('incidents'),
    OPS_BOOTSTRAP_ADMIN_USERNAME: 'bench',
    OPS_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
    OPS_SCHEDULER: 'false',
    OPS_INCIDENT_TIMERS: 'true',
    OPS_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    OPS_RATE_LIMIT_PER_MINUTE: process.env.BENCH_RATE_LIMIT ?? '1000000',
    OPS_PORT: String(port),
    OPS_HOST: '127.0.0.1',
    ...(process.env.PGOPTIONS ? { PGOPTIONS: process.env.PGOPTIONS } : {}),
    NODE_ENV: 'production',
  };
  execFileSync('node', [join(DIST, 'src/cli/migrate.js')], { env, stdio: 'ignore' });
  const out = openSync('/dev/null', 'w');
  const child = spawn('node', [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), join(DIST, 'src/main.js')], {
    env,
    stdio: ['ignore', out, 'inherit'],
  });
  const call = client(`http://127.0.0.1:${port}`);
  await waitUntil('the control plane', async () => (await call('GET', '/health').catch(() => ({ status: 0 }))).status === 200);
  const login = await call('POST', '/api/v1/auth/login', {}, JSON.stringify({ username: 'bench', password: PASSWORD }));
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  const made = await call(
    'POST',
    '/api/v1/tokens',
    { authorization: `Bearer ${login.body.accessToken}` },
    JSON.stringify({ name: `alertmanager-${Date.now()}`, kind: 'service', scopes: ['alerts.receive'] }),
  );
  if (made.status !== 201) throw new Error(`service token: ${made.status} ${JSON.stringify(made.body)}`);
  return {
    call,
    token: made.body.token,
    pid: child.pid,
    stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))),
  };
}

function startBare() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'bare-webhook-server.js')], {
      env: { ...process.env, BENCH_BARE_DATABASE_URL: `${SERVER}/${DB}` },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.once('data', (chunk) =>
      resolve({
        call: client(`http://127.0.0.1:${String(chunk).trim()}`),
        pid: child.pid,
        stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))),
      }),
    );
    child.once('error', reject);
  });
}

/** CPU time (ms) used so far by process `pid`, and by every PostgreSQL and Redis process of this machine. */
function cpuTimes(pid) {
  const tick = 10; // USER_HZ is 100 on Linux
  const of = (p) => {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return {
        comm: f.slice(f.indexOf('(') + 1, f.lastIndexOf(')')),
        ms: (Number(rest[11]) + Number(rest[12])) * tick,
        sys: Number(rest[12]) * tick,
      };
    } catch {
      return { comm: '', ms: 0 };
    }
  };
  const all = require('node:fs')
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(of);
  return {
    server: of(pid).ms,
    serverSys: of(pid).sys,
    postgres: all.filter((p) => p.comm === 'postgres').reduce((s, p) => s + p.ms, 0),
    redis: all.filter((p) => p.comm.startsWith('redis-server')).reduce((s, p) => s + p.ms, 0),
  };
}
const cpuSince = (before, pid) => {
  const now = cpuTimes(pid);
  return {
    server: now.server - before.server,
    serverSys: now.serverSys - before.serverSys,
    postgres: now.postgres - before.postgres,
    redis: now.redis - before.redis,
  };
};
const perDelivery = (cpu, n) =>
  `CPU per delivery: server ${(cpu.server / n).toFixed(2)} ms (system ${(cpu.serverSys / n).toFixed(2)}), PostgreSQL ${(cpu.postgres / n).toFixed(2)} ms, Redis ${(cpu.redis / n).toFixed(2)} ms`;

const hex = (n, width) => n.toString(16).padStart(width, '0');

/** One Alertmanager notification (webhook payload version 4) of `alerts` firing in group `name`. */
function notification(name, alerts) {
  return {
    version: '4',
    groupKey: `{}/{severity="critical"}:{alertname="${name}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'on-call',
    groupLabels: { alertname: name },
    commonLabels: { alertname: name, severity: 'critical', component: 'api' },
    commonAnnotations: { summary: `${name} is failing` },
    externalURL: 'http://127.0.0.1:19093',
    alerts: alerts.map((a) => ({
      status: 'firing',
      labels: { alertname: name, severity: 'critical', component: 'api', instance: a.instance },
      annotations: { summary: `${name} is failing`, description: `instance ${a.instance} does not answer` },
      startsAt: a.startsAt,
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://127.0.0.1:19090/graph?g0.expr=up%3D%3D0',
      fingerprint: a.fingerprint,
    })),
  };
}

/** The storm of one round: 50 groups × 20 alerts; delivery j of a group carries its alerts 1..j; groups interleaved. */
function storm(tag) {
  const startsAt = new Date(Date.now() - 60_000).toISOString();
  const groups = Array.from({ length: GROUPS }, (_, g) => ({
    name: `BenchStorm${tag}g${g}`,
    alerts: Array.from({ length: PER_GROUP }, (_, k) => ({
      instance: `10.0.${g}.${k}:9100`,
      fingerprint: `${hex(tag.charCodeAt(0), 2)}${hex(Number(tag.slice(1)) || 0, 4)}${hex(g, 4)}${hex(k, 6)}`,
      startsAt,
    })),
  }));
  const deliveries = [];
  for (let j = 1; j <= PER_GROUP; j++)
    for (const group of groups)
      deliveries.push({ group: group.name, first: j === 1, body: JSON.stringify(notification(group.name, group.alerts.slice(0, j))) });
  return { groups, deliveries };
}

/** Delivers every payload with CLIENTS closed loops; latency per delivery, statuses, wall time. */
async function deliverAll(call, token, deliveries, onStart) {
  let next = 0;
  const latencies = new Array(deliveries.length);
  const statuses = {};
  const started = performance.now();
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < deliveries.length; i = next++) {
        const t0 = performance.now();
        onStart?.(deliveries[i], t0);
        const res = await call('POST', '/api/v1/alerts/webhook', headers, deliveries[i].body);
        latencies[i] = performance.now() - t0;
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }
    }),
  );
  const wall = performance.now() - started;
  return { started, wall, rps: (deliveries.length * 1000) / wall, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), statuses };
}

/** Duplicates of one round's storm, counted in the control plane's database. */
async function duplicates(db, run) {
  const keys = run.groups.map((g) => `{}/{severity="critical"}:{alertname="${g.name}"}`);
  const fingerprints = run.groups.flatMap((g) => g.alerts.map((a) => a.fingerprint));
  const q = async (sql, params) => (await db.query(sql, params)).rows;
  const perGroup = await q(
    'SELECT group_key, count(DISTINCT incident_id)::int AS n FROM incident_alert_groups WHERE group_key = ANY($1) GROUP BY 1',
    [keys],
  );
  const incidents = await q(
    `SELECT count(DISTINCT i.id)::int AS n FROM incidents i JOIN incident_alerts a ON a.incident_id = i.id WHERE a.fingerprint = ANY($1)`,
    [fingerprints],
  );
  const alerts = await q(
    'SELECT fingerprint, starts_at, count(*)::int AS n FROM incident_alerts WHERE fingerprint = ANY($1) GROUP BY 1, 2',
    [fingerprints],
  );
  const notifications = await q(
    'SELECT count(*)::int AS n, count(DISTINCT dedupe_key)::int AS keys FROM alert_notifications WHERE group_key = ANY($1)',
    [keys],
  );
  const pages = await q(
    `SELECT p.incident_id, p.person, p.channel, count(*)::int AS n FROM incident_pages p
     WHERE p.reason = 'page:0' AND p.incident_id IN (SELECT incident_id FROM incident_alert_groups WHERE group_key = ANY($1)) GROUP BY 1, 2, 3`,
    [keys],
  );
  const extraIncidents = perGroup.reduce((s, r) => s + r.n - 1, 0) + Math.max(0, incidents[0].n - GROUPS);
  const extraAlerts = alerts.reduce((s, r) => s + r.n - 1, 0);
  const extraNotifications = notifications[0].n - notifications[0].keys;
  const extraPages = pages.reduce((s, r) => s + r.n - 1, 0);
  return {
    total: extraIncidents + extraAlerts + extraNotifications + extraPages,
    extraIncidents,
    extraAlerts,
    extraNotifications,
    extraPages,
    groupsWithIncident: perGroup.length,
    incidents: incidents[0].n,
    alerts: alerts.length,
    notifications: notifications[0].n,
    firstPages: pages.length,
  };
}

/** One mail sample each way: a new P1 incident's first mail, and the same mail sent by plain nodemailer. */
async function mailSample(cp, smtp, db, i) {
  const name = `BenchMail${i}x${process.pid}`;
  const body = JSON.stringify(
    notification(name, [
      { instance: '10.1.0.1:9100', fingerprint: `fe${hex(process.pid, 6)}${hex(i, 8)}`, startsAt: new Date().toISOString() },
    ]),
  );
  const waitCp = smtp.next(name);
  const t0 = performance.now();
  const res = await cp.call('POST', '/api/v1/alerts/webhook', { authorization: `Bearer ${cp.token}` }, body);
  if (res.status !== 200) throw new Error(`mail sample delivery: ${res.status} ${JSON.stringify(res.body)}`);
  const mail = await waitCp;
  const viaCp = mail.at - t0;
  // The same mail (as the outbox holds it) by plain nodemailer; its subject made unique so that the waiter knows it.
  const page = (
    await db.query(
      "SELECT subject, body, target FROM incident_pages WHERE channel = 'email' AND subject LIKE $1 ORDER BY created_at LIMIT 1",
      [`%${name}:%`],
    )
  ).rows[0];
  const subject = `${page.subject} #${i}`;
  const text = page.body;
  const waitPlain = smtp.next(subject);
  const t1 = performance.now();
  const transport = nodemailer.createTransport({ url: smtp.url, logger: false, debug: false });
  await transport.sendMail({ from: FROM, to: [page.target], subject, text });
  transport.close();
  const plain = (await waitPlain).at - t1;
  return { viaCp, plain };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'erp-bench-incidents-'));
  const smtp = await startSmtp();
  const cp = await startControlPlane(dir, smtp.url);
  const bare = await startBare();
  const db = new Client({ connectionString: `${SERVER}/${DB}` });
  await db.connect();
  const rounds = [];
  const stormMail = [];
  let mailResults;
  try {
    // Warm-up: a whole storm of its own into both (payloads of every size, so that both are compiled for all of them).
    const warm = storm('w0').deliveries;
    await deliverAll(bare.call, null, warm);
    await deliverAll(cp.call, cp.token, warm);
    for (let round = 1; round <= ROUNDS; round++) {
      const run = storm(`r${round}`);
      const firstSent = new Map();
      const order = round % 2 ? ['bare', 'cp'] : ['cp', 'bare'];
      const r = { round };
      for (const which of order) {
        const before = cpuTimes(which === 'bare' ? bare.pid : cp.pid);
        if (which === 'bare') r.bare = await deliverAll(bare.call, null, run.deliveries);
        else
          r.cp = await deliverAll(cp.call, cp.token, run.deliveries, (d, t0) => {
            if (d.first && !firstSent.has(d.group)) firstSent.set(d.group, t0);
          });
        if (which === 'cp') {
          // Until every alert of the storm is in an incident (whether the answer waited for it or not).
          const fingerprints = run.groups.flatMap((g) => g.alerts.map((a) => a.fingerprint));
          await waitUntil(
            'every alert of the storm in an incident',
            async () =>
              (await db.query('SELECT count(*)::int AS n FROM incident_alerts WHERE fingerprint = ANY($1)', [fingerprints])).rows[0].n ===
              fingerprints.length,
            120_000,
          );
          r.cp.processed = performance.now() - r.cp.started;
          r.cp.processedRps = (run.deliveries.length * 1000) / r.cp.processed;
        }
        r[which].cpu = cpuSince(before, which === 'bare' ? bare.pid : cp.pid);
      }
      const beforeRetry = cpuTimes(cp.pid);
      r.retry = await deliverAll(cp.call, cp.token, run.deliveries);
      r.retry.cpu = cpuSince(beforeRetry, cp.pid);
      r.dup = await duplicates(db, run);
      // Every group's first mail: when it was accepted, after its first delivery started.
      await waitUntil(
        'every incident of the storm mailed',
        () => run.groups.every((g) => smtp.accepted.some((m) => m.subject.includes(`${g.name}:`))),
        120_000,
      );
      for (const g of run.groups) {
        const first = smtp.accepted.find((m) => m.subject.includes(`${g.name}:`));
        stormMail.push(first.at - firstSent.get(g.name));
      }
      rounds.push(r);
      console.log(
        `round ${round}: control plane ${r.cp.rps.toFixed(0)} deliveries/s (p50 ${ms(r.cp.p50)}, p99 ${ms(r.cp.p99)}, statuses ${JSON.stringify(r.cp.statuses)}) | bare ${r.bare.rps.toFixed(0)}/s (p99 ${ms(r.bare.p99)}) | ratio ${(r.cp.rps / r.bare.rps).toFixed(2)} | re-delivery ${r.retry.rps.toFixed(0)}/s p99 ${ms(r.retry.p99)} ${JSON.stringify(r.retry.statuses)} | duplicates ${r.dup.total} (${r.dup.incidents} incidents for ${r.dup.groupsWithIncident} groups, ${r.dup.alerts} alerts, ${r.dup.notifications} notifications, ${r.dup.firstPages} first pages)`,
      );
      console.log(
        `  control plane: all alerts in incidents ${r.cp.processed.toFixed(0)} ms after the first delivery (${r.cp.processedRps.toFixed(0)} deliveries/s, ratio ${(r.cp.processedRps / r.bare.rps).toFixed(2)})`,
      );
      console.log(
        `  control plane ${perDelivery(r.cp.cpu, run.deliveries.length)} | re-delivery ${perDelivery(r.retry.cpu, run.deliveries.length)} | bare ${perDelivery(r.bare.cpu, run.deliveries.length)}`,
      );
    }

    // Mail latency, quiet: one delivery at a time, alternating with a plain nodemailer send.
    await sleep(1000);
    const samples = [];
    for (let i = 0; i < SAMPLES + 3; i++) {
      const s = await mailSample(cp, smtp, db, i);
      if (i >= 3) samples.push(s); // the first three warm the path up
    }
    mailResults = samples;
  } finally {
    await db.end();
    await bare.stop();
    await cp.stop();
    await smtp.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const ratios = rounds.map((r) => r.cp.rps / r.bare.rps);
  const p99s = rounds.map((r) => r.cp.p99);
  const dups = rounds.reduce((s, r) => s + r.dup.total, 0);
  const non2xx = rounds.reduce(
    (s, r) =>
      s +
      Object.entries({ ...r.cp.statuses })
        .filter(([k]) => !k.startsWith('2'))
        .reduce((a, [, n]) => a + n, 0),
    0,
  );
  const viaCp = mailResults.map((s) => s.viaCp);
  const plain = mailResults.map((s) => s.plain);
  console.log('');
  console.log(
    `alert storm: ${GROUPS * PER_GROUP} alerts in ${GROUPS} groups, ${GROUPS * PER_GROUP} deliveries by ${CLIENTS} clients, ${ROUNDS} rounds (medians)`,
  );
  console.log(`  intake p99 ${ms(median(p99s))} (rounds: ${p99s.map(ms).join(', ')})${non2xx ? ` | ${non2xx} non-2xx!` : ''}`);
  console.log(
    `  throughput ${median(rounds.map((r) => r.cp.rps)).toFixed(0)} deliveries/s vs bare Fastify+zod+INSERT ${median(rounds.map((r) => r.bare.rps)).toFixed(0)}/s: ratio ${median(ratios).toFixed(2)} (target >= 0.5; rounds ${ratios.map((x) => x.toFixed(2)).join(', ')})`,
  );
  console.log(`  duplicates after re-delivering every payload: ${dups} (must be 0)`);
  console.log(
    `  storm: first delivery of a group -> its first mail accepted: p50 ${ms(median(stormMail))}, p95 ${ms(quantile(stormMail, 0.95))}`,
  );
  console.log(
    `mail, one delivery at a time (${SAMPLES} samples): delivery -> first mail accepted p50 ${ms(median(viaCp))}, p95 ${ms(quantile(viaCp, 0.95))} | plain nodemailer send p50 ${ms(median(plain))}, p95 ${ms(quantile(plain, 0.95))} | p95 ratio ${(quantile(viaCp, 0.95) / quantile(plain, 0.95)).toFixed(2)} (target <= 2)`,
  );
  if (dups || non2xx) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
