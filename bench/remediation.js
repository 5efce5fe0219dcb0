#!/usr/bin/env node
/**
 * Benchmark (issue 6): time from request to verified recovery, on the stand-in stack,
 * against the same steps typed as the runbook's shell commands (a bash script without
 * pauses beyond the runbook's own), alternating in one run. Target ratio <= 1.0.
 *
 *   backend.crash-loop: the backend crash-loops (fault switch crashOnStart, Docker's restart
 *     policy), its cause is then fixed (switch cleared); recovery = POST the run → it ends
 *     `succeeded` (backend healthy, health URL 200), against the runbook's Issue 6 commands:
 *     logs --tail 100, ps postgres, the DATABASE_URL check, stop; sleep 5; start, watch until
 *     healthy + curl /health.
 *   emergency.outage: four services stopped (redis, nginx, grafana, kibana); recovery = POST the
 *     run → `succeeded` (notified, diagnosed, every service restarted, the daily checklist
 *     green, recovery notified), against the runbook's "System Complete Outage" commands:
 *     notify (chat webhook + mail with curl), ps, logs of every service, df/free/uptime,
 *     docker restart of every service, wait until all are up, the daily startup checks by
 *     hand (log grep, psql \dt and count, curl health, Prometheus, Grafana, Kibana,
 *     Elasticsearch), notify again.
 *
 *   npm run bench:remediation   (BENCH_ROUNDS=3; needs the stand-in stack: npm run stack:up)
 */
const { join } = require('node:path');
const { benchState } = require('./bench-state');
const { readFileSync, mkdtempSync, rmSync, writeFileSync, renameSync } = require('node:fs');
const { execFileSync, spawn } = require('node:child_process');
const { tmpdir } = require('node:os');
const http = require('node:http');
const { SMTPServer } = require('smtp-server');

const ROOT = join(__dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FAULTS = join(ROOT, 'stack/run/faults');
const SERVICES = ['postgres', 'redis', 'backend', 'nginx', 'prometheus', 'grafana', 'alertmanager', 'elasticsearch', 'logstash', 'kibana'];
const HEALTHCHECKED = ['postgres', 'redis', 'backend', 'elasticsearch'];
const OUTAGE = ['redis', 'nginx', 'grafana', 'kibana'];
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs a bash script (asynchronously: the notification sinks live in this process) and times it. */
const bash = (script, env = {}) =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`script failed (exit ${code}): ${stderr.slice(-2000)}`)),
    );
  });
const inspect = (c, format) => execFileSync('docker', ['inspect', '-f', format, c], { encoding: 'utf8' }).trim();
const setFault = (service, state) => {
  const file = join(FAULTS, `${service}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify(state) + '\n');
  renameSync(`${file}.tmp`, file);
};

async function waitUntil(what, fn, ms = 180_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
const allUp = () =>
  SERVICES.every(
    (s) =>
      inspect(`erp-${s}`, '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}') ===
      (HEALTHCHECKED.includes(s) ? 'running healthy' : 'running'),
  );

/** The stack is whole again before each measurement (and the backend's crash backoff reset). */
async function settle() {
  for (const s of SERVICES) setFault(s, {});
  for (const s of SERVICES) if (inspect(`erp-${s}`, '{{.State.Status}}') !== 'running') execFileSync('docker', ['start', `erp-${s}`]);
  await waitUntil('every service up', allUp);
}

/** The backend crash-loops, then its cause is fixed: what each recovery starts from. */
async function crashLoop() {
  setFault('backend', { crashOnStart: true });
  const restarts = Number(inspect('erp-backend', '{{.RestartCount}}'));
  execFileSync('docker', ['restart', '-t', '2', 'erp-backend']);
  await waitUntil('the backend crash-looping', async () => Number(inspect('erp-backend', '{{.RestartCount}}')) >= restarts + 2, 60_000);
  setFault('backend', {});
}

async function outage() {
  execFileSync('docker', ['stop', '-t', '2', ...OUTAGE.map((s) => `erp-${s}`)]);
}

const RUNBOOK_CRASH_LOOP = `
docker logs --tail 100 erp-backend > /dev/null 2>&1
docker ps -a --filter name=erp-postgres > /dev/null
docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' erp-backend | grep -i database_url > /dev/null
docker stop -t 10 erp-backend > /dev/null
sleep 5
docker start erp-backend > /dev/null
until [ "$(docker inspect -f '{{.State.Status}} {{.State.Health.Status}}' erp-backend)" = "running healthy" ] && curl -fsS -m 3 http://127.0.0.1:18080/health > /dev/null; do sleep 0.5; done
`;

const RUNBOOK_OUTAGE = `
notify() { # the runbook's step 1 (and the recovery message): Slack and e-mail
  curl -fsS -m 10 -X POST -H 'content-type: application/json' -d "{\\"channel\\":\\"#erp-emergency\\",\\"text\\":\\"$1\\"}" "$CHAT" > /dev/null
  printf 'From: erp-ops@localhost\\r\\nTo: erp-support@qutykarunia.com, management@qutykarunia.com\\r\\nSubject: %s\\r\\n\\r\\n%s\\r\\n' "$1" "$1" > "$MSG"
  curl -fsS -m 10 "$SMTP" --mail-from erp-ops@localhost --mail-rcpt erp-support@qutykarunia.com --mail-rcpt management@qutykarunia.com -T "$MSG"
}
notify "System outage detected at $(date +%H:%M). Investigating..."
docker ps -a --filter label=com.docker.compose.project=erp > /dev/null
for s in $SERVICES; do docker logs --tail 50 erp-$s > /dev/null 2>&1; done
df -h / > /dev/null; free -m > /dev/null; uptime > /dev/null
docker restart $(for s in $SERVICES; do printf 'erp-%s ' $s; done) > /dev/null
for s in $SERVICES; do
  want=running; case " $HEALTHCHECKED " in *" $s "*) want="running healthy";; esac
  until [ "$(docker inspect -f '{{.State.Status}}{{if .State.Health}} {{.State.Health.Status}}{{end}}' erp-$s)" = "$want" ]; do sleep 0.5; done
done
# The daily startup checklist, typed.
for s in $SERVICES; do docker logs --tail 50 --since 10m erp-$s 2>&1 | grep -ci error > /dev/null || true; done
psql -X -qAt "$ERP_DB" -c '\\dt' > /dev/null
psql -X -qAt "$ERP_DB" -c 'SELECT count(*) FROM products' > /dev/null
curl -fsS -m 5 http://127.0.0.1:18080/health > /dev/null
curl -fsS -m 5 'http://127.0.0.1:19090/api/v1/query?query=up' > /dev/null
curl -fsS -m 5 http://127.0.0.1:13000/api/health > /dev/null
curl -fsS -m 5 http://127.0.0.1:15601/api/status > /dev/null
curl -fsS -m 5 http://127.0.0.1:19200/_cluster/health > /dev/null
curl -fsS -m 5 'http://127.0.0.1:19200/erp-*/_count' > /dev/null
redis-cli -p 16379 info memory > /dev/null 2>&1 || true
notify "System recovered at $(date +%H:%M)."
`;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'erp-bench-remediation-'));
  // Notification sinks: a real SMTP server and a webhook receiver, both on 127.0.0.1.
  let mails = 0;
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData: (s, _x, cb) => (s.resume(), s.on('end', () => (mails++, cb()))),
  });
  await new Promise((r) => smtp.listen(0, '127.0.0.1', r));
  const smtpPort = smtp.server.address().port;
  let chats = 0;
  const chat = http.createServer((req, res) => (req.resume(), req.on('end', () => (chats++, res.end('ok')))));
  await new Promise((r) => chat.listen(0, '127.0.0.1', r));
  const chatUrl = `http://127.0.0.1:${chat.address().port}/services/T0/B0/bench`;

  let text = readFileSync(join(ROOT, 'stack/ops.stack.yaml'), 'utf8')
    .replace(/smtpUrl: .*/, `smtpUrl: smtp://127.0.0.1:${smtpPort}`)
    .replace(/chatWebhookUrl: .*/, `chatWebhookUrl: ${chatUrl}`)
    .replace(/^  directory: .*/m, `  directory: ${dir}`);
  const inventoryFile = join(dir, 'ops.bench.yaml');
  writeFileSync(inventoryFile, text);
  const port = 3240 + (process.pid % 50);
  const env = {
    PATH: process.env.PATH,
    OPS_INVENTORY: inventoryFile,
    OPS_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/erp_ops_bench_remediation',
    OPS_REDIS_PREFIX: `bench-remediation:${process.pid}:`,
    ...benchState('remediation'),
    OPS_SCHEDULER: 'false',
    OPS_LOG_LEVEL: 'warn',
    OPS_RATE_LIMIT_PER_MINUTE: '0',
    OPS_PORT: String(port),
  };
  execFileSync(
    'psql',
    [
      '-X',
      '-q',
      'postgres://postgres@127.0.0.1:5432/postgres',
      '-c',
      'DROP DATABASE IF EXISTS erp_ops_bench_remediation WITH (FORCE)',
      '-c',
      'CREATE DATABASE erp_ops_bench_remediation',
    ],
    { stdio: 'ignore' },
  );
  const username = `bench${Date.now()}`;
  const password = 'bench-password-123456';
  execFileSync('node', [join(ROOT, 'dist/src/cli/migrate.js')], { env, stdio: 'ignore' });
  execFileSync('node', [join(ROOT, 'dist/src/cli/user.js'), 'create', '--username', username, '--role', 'admin', '--password-stdin'], {
    env,
    input: `${password}\n`,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const child = spawn('node', [join(ROOT, 'dist/src/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  const call = (method, path, headers = {}, body) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        `${base}${path}`,
        { method, agent: false, headers: { 'content-type': 'application/json', ...headers } },
        (res) => {
          let t = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (t += c));
          res.on('end', () => {
            try {
              resolve({ status: res.statusCode, body: JSON.parse(t) });
            } catch {
              resolve({ status: res.statusCode, body: t });
            }
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await waitUntil('the control plane', async () => (await call('GET', '/health').catch(() => ({ status: 0 }))).status === 200, 60_000);
  const token = (await call('POST', '/api/v1/auth/login', {}, JSON.stringify({ username, password }))).body.accessToken;
  const auth = { authorization: `Bearer ${token}` };

  /** Resolves when the run's event stream (SSE) reports its final status. */
  const ended = (runId) =>
    new Promise((resolve, reject) => {
      const req = http.get(
        `${base}/api/v1/runs/${runId}/events`,
        { agent: false, headers: { ...auth, accept: 'text/event-stream' } },
        (res) => {
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            buffer += chunk;
            for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
              const event = buffer.slice(0, at);
              buffer = buffer.slice(at + 2);
              const data = /^data: (.*)$/m.exec(event)?.[1];
              if (!data) continue;
              const parsed = JSON.parse(data);
              const status = /^event: snapshot$/m.test(event) ? parsed.status : /^event: status$/m.test(event) ? parsed.status : null;
              if (['succeeded', 'failed', 'escalated', 'cancelled', 'interrupted'].includes(status)) {
                req.destroy();
                resolve(status);
              }
            }
          });
          res.on('end', () => resolve(null));
        },
      );
      req.on('error', (e) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
    });

  /** Request → the run ended (its event stream says so); its wall time (the run must succeed: a verified recovery). */
  const viaControlPlane = async (procedure, parameters = {}) => {
    const started = performance.now();
    const created = await call('POST', `/api/v1/procedures/${procedure}/runs`, auth, JSON.stringify({ parameters }));
    if (created.status !== 201) throw new Error(`${procedure}: ${created.status} ${JSON.stringify(created.body)}`);
    await ended(created.body.id);
    const ms = performance.now() - started;
    const run = (await call('GET', `/api/v1/runs/${created.body.id}`, auth)).body;
    if (run.status !== 'succeeded') throw new Error(`${procedure} ended ${run.status}: ${run.error}`);
    return { ms, run };
  };

  const scriptEnv = {
    CHAT: chatUrl,
    SMTP: `smtp://127.0.0.1:${smtpPort}`,
    MSG: join(dir, 'mail.txt'),
    SERVICES: SERVICES.join(' '),
    HEALTHCHECKED: HEALTHCHECKED.join(' '),
    ERP_DB: 'postgres://postgres:erp-stack-dev@127.0.0.1:15432/erp_quty_karunia_prod',
  };
  const results = { crash: { ours: [], runbook: [] }, outage: { ours: [], runbook: [] } };
  console.log(`stand-in stack, ${ROUNDS} rounds, alternating which goes first`);
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 ? ['ours', 'runbook'] : ['runbook', 'ours'];
      for (const which of order) {
        await settle();
        await crashLoop();
        let ms;
        let detail = '';
        if (which === 'ours') {
          const { ms: wall, run } = await viaControlPlane('backend.crash-loop');
          ms = wall;
          const first = new Date(run.createdAt).getTime();
          detail = ` (queued ${new Date(run.startedAt) - first} ms; ${run.steps.map((s) => `${s.stepId} ${new Date(s.finishedAt) - new Date(s.startedAt)} ms`).join(', ')})`;
        } else {
          ms = await bash(RUNBOOK_CRASH_LOOP, scriptEnv);
        }
        results.crash[which].push(ms);
        console.log(`  round ${round}: backend.crash-loop ${which === 'ours' ? 'control plane' : 'runbook script'} ${secs(ms)}${detail}`);
      }
      for (const which of order) {
        await settle();
        await outage();
        let ms;
        if (which === 'ours') {
          const { ms: wall, run } = await viaControlPlane('emergency.outage');
          const verify = run.steps.find((s) => s.stepId === 'verify');
          ms = wall;
          console.log(
            `  round ${round}: emergency.outage control plane ${secs(ms)} (checklist attempts ${verify.output.attempts}, waited for ${verify.output.waitedFor.join(' ') || 'nothing'}; steps ${run.steps.map((s) => `${s.stepId} ${((new Date(s.finishedAt) - new Date(s.startedAt)) / 1000).toFixed(1)}`).join(', ')})`,
          );
        } else {
          ms = await bash(RUNBOOK_OUTAGE, scriptEnv);
          console.log(`  round ${round}: emergency.outage runbook script ${secs(ms)}`);
        }
        results.outage[which].push(ms);
      }
    }
    for (const [name, label] of [
      ['crash', 'backend.crash-loop'],
      ['outage', 'emergency.outage'],
    ]) {
      const r = results[name];
      console.log(
        `${label}: control plane median ${secs(median(r.ours))}, runbook script ${secs(median(r.runbook))}; ratio ${(median(r.ours) / median(r.runbook)).toFixed(2)} (target <= 1.0)`,
      );
    }
    console.log(`notifications received: ${mails} mails, ${chats} chat messages`);
  } finally {
    await settle().catch(() => undefined);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    smtp.close();
    chat.close();
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
