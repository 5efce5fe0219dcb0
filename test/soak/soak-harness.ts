import { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { projectRoot } from '../../src/common/paths';
import { startControlPlaneProcess } from '../helpers/control-plane-process';
import { onExit, pauseSync, running } from '../helpers/on-exit';
import { OwnDockerd } from '../helpers/own-dockerd';
import { OwnPostgres } from '../helpers/own-postgres';
import { OwnRedis } from '../helpers/redis-server';

/**
 * The load and fault suite (npm run bench:soak, and shortened in test/soak/soak.spec.ts).
 *
 * Everything the control plane depends on is its own, so that restarting it disturbs nobody:
 * a PostgreSQL (initdb in a temp folder, run as the postgres OS user), a redis-server and a
 * second dockerd (own data root, exec root, pid file and socket; no bridge, no iptables), each
 * on 127.0.0.1 and stopped only by its PID. The control plane runs in its own process
 * (dist/test/helpers/control-plane-child.js, with the fixture procedure `test.short`), its
 * inventory's outside URLs, ERP database and ERP Redis at 127.0.0.1:1 (refused at once).
 *
 * Phases: `steady` (load only), then one fault at a time under the same load: `postgres`
 * (pg_ctl stop -m fast, down for outageSeconds, start), `redis` (redis-server stopped and
 * started: it has no persistence, so every key is lost, as after a crash), `docker` (dockerd
 * stopped and started). The load: `clients` concurrent clients, each pausing a random 0 to
 * 2 × thinkMs between requests (as a person or a polling script does; thinkMs 0 makes closed
 * loops), each request with a unique X-Request-Id, mixing reads (health summary, runs, audit,
 * auth/me, a GraphQL query), checklist runs, procedure dry runs, real runs of `test.short`
 * (500 ms; each client its own lock slot, a new run once its last ended) and successful
 * sign-ins (`users` senior_dev users shared by the clients; OPS_RATE_LIMIT_PER_MINUTE is raised
 * to 1 000 000 so the limiter still counts every request in Redis but never refuses). After a
 * 503 a client pauses at least 250 ms (not the whole Retry-After, so the outage stays under load).
 * Loops stop by themselves at the end of each phase; all traffic goes to 127.0.0.1.
 */

export type PhaseName = 'steady' | 'postgres' | 'redis' | 'docker';
export const PHASES: PhaseName[] = ['steady', 'postgres', 'redis', 'docker'];

export interface SoakSettings {
  clients: number;
  steadySeconds: number;
  /** Load before the fault in each fault phase. */
  leadSeconds: number;
  /** How long the dependency stays down. */
  outageSeconds: number;
  /** Load after the service recovered, in each fault phase. */
  tailSeconds: number;
  requestTimeoutMs: number;
  /** Mean pause of a client between two requests (uniform 0 … 2×); 0 makes closed loops. */
  thinkMs: number;
  /** A request may take this much longer than OPS_REQUEST_TIMEOUT_MS before it counts as a hang. */
  marginMs: number;
  users: number;
  phases: PhaseName[];
  /** Keep the temp folder (logs of the control plane, PostgreSQL, dockerd). */
  keep: boolean;
  log: (line: string) => void;
}

export function settingsFromEnv(defaults: Partial<SoakSettings>, env: NodeJS.ProcessEnv = process.env): SoakSettings {
  const num = (name: string, fallback: number) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : fallback);
  const phases = (env.SOAK_PHASES ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean) as PhaseName[];
  for (const p of phases) if (!PHASES.includes(p)) throw new Error(`SOAK_PHASES: unknown phase ${p} (one of ${PHASES.join(', ')})`);
  return {
    clients: num('SOAK_CLIENTS', defaults.clients ?? 200),
    steadySeconds: num('SOAK_SECONDS', defaults.steadySeconds ?? 60),
    leadSeconds: num('SOAK_LEAD_SECONDS', defaults.leadSeconds ?? 5),
    outageSeconds: num('SOAK_OUTAGE_SECONDS', defaults.outageSeconds ?? 5),
    tailSeconds: num('SOAK_TAIL_SECONDS', defaults.tailSeconds ?? 10),
    requestTimeoutMs: num('SOAK_REQUEST_TIMEOUT_MS', defaults.requestTimeoutMs ?? 10_000),
    thinkMs: num('SOAK_THINK_MS', defaults.thinkMs ?? 1000),
    marginMs: num('SOAK_MARGIN_MS', defaults.marginMs ?? 2000),
    users: num('SOAK_USERS', defaults.users ?? 20),
    phases: phases.length ? phases : (defaults.phases ?? PHASES),
    keep: env.SOAK_KEEP === '1' || (defaults.keep ?? false),
    log: defaults.log ?? ((line) => process.stderr.write(`${line}\n`)),
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface Answer {
  status: number;
  /** 0 when the client gave up (no answer within the request timeout + margin + 5 s) or the connection failed. */
  failure?: string;
  retryAfter?: string;
  body: any;
  ms: number;
}

const PASSWORD = 'soak-horse-battery-staple';

class HttpClient {
  readonly agent: Agent;
  constructor(
    readonly base: string,
    sockets: number,
    private readonly giveUpMs: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  call(method: string, path: string, options: { token?: string; body?: unknown; requestId: string }): Promise<Answer> {
    const started = performance.now();
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const url = new URL(path, this.base);
    return new Promise((resolve) => {
      let done = false;
      const finish = (answer: Omit<Answer, 'ms'>) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ ...answer, ms: performance.now() - started });
      };
      const req = httpRequest(
        {
          agent: this.agent,
          hostname: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method,
          headers: {
            'X-Request-Id': options.requestId,
            Accept: 'application/json',
            ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
            ...(payload !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (error) => finish({ status: 0, failure: `response: ${error.message}`, body: undefined }));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: any = text;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON
            }
            const retryAfter = res.headers['retry-after'];
            finish({ status: res.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, body });
          });
        },
      );
      const timer = setTimeout(() => {
        finish({ status: 0, failure: 'no answer (client gave up)', body: undefined });
        req.destroy();
      }, this.giveUpMs);
      req.on('error', (error) =>
        finish({ status: 0, failure: `request: ${(error as NodeJS.ErrnoException).code ?? error.message}`, body: undefined }),
      );
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Records

type Op = 'summary' | 'runs' | 'audit' | 'me' | 'graphql' | 'checklist' | 'dryrun' | 'run' | 'runget' | 'login';
const MUTATIONS = new Set<Op>(['checklist', 'dryrun', 'run', 'login']);

export interface RequestRecord {
  phase: PhaseName;
  op: Op;
  requestId: string;
  /** HTTP status; for a GraphQL answer with errors, the first error's extensions.status. */
  status: number;
  httpStatus: number;
  /** Retry-After header (or GraphQL extensions.retryAfter). */
  retryAfter?: string;
  errorCode?: string;
  message?: string;
  failure?: string;
  /** ms since the soak began. */
  at: number;
  ms: number;
}

export interface Recovery {
  /** The dependency answered again (ms since the soak began). */
  upAt: number;
  /** From upAt to the first 200 of /health/ready (a probe sent after upAt). */
  readyMs: number | null;
  /** From upAt to the first 2xx of an authenticated read (GET /api/v1/runs). */
  readMs: number | null;
  /** Docker only: from upAt to the first checklist run that sees the engine again. */
  dependencyMs: number | null;
  /** The largest of the above (null when one never came within the bound). */
  totalMs: number | null;
}

export interface PhaseResult {
  name: PhaseName;
  seconds: number;
  requests: number;
  reqPerSec: number;
  p50: number;
  p99: number;
  maxMs: number;
  /** Every 5xx (including 503s). */
  status5xx: number;
  status503: number;
  /** 503s without Retry-After (GraphQL: extensions.retryAfter). */
  without503RetryAfter: number;
  /** 5xx other than 503 (500, 502, 504 …): must be zero. */
  other5xx: number;
  /** No answer: connection failure or the client gave up. */
  noAnswer: number;
  /** Took longer than OPS_REQUEST_TIMEOUT_MS + margin. */
  overTimeout: number;
  byOp: Record<string, { n: number; s2xx: number; s4xx: number; s503: number; other5xx: number; p50: number; p99: number }>;
  /** A few of the bad ones (5xx other than 503, 503 without Retry-After, no answer, too slow). */
  samples: RequestRecord[];
  downAt?: number;
  recovery?: Recovery;
  /** CPU used during the phase, in cores (1 = one core busy the whole phase). */
  cpu: { controlPlane: number; postgres: number; loadGenerator: number };
}

export interface SoakResult {
  settings: Omit<SoakSettings, 'log'>;
  phases: PhaseResult[];
  /** Runs by final status (after the load stopped and every run ended). */
  runsByStatus: Record<string, number>;
  /** Runs still running or queued once the bound after the load passed. */
  stuckRuns: { id: string; status: string; procedure: string; createdAt: string }[];
  /** How long after the load stopped until no run was running or queued (null: some never ended). */
  settleMs: number | null;
  /** Lock keys held by a run that ended (or by an unknown holder). */
  heldLocks: { key: string; holder: string; status: string | null }[];
  auditVerify: { valid: boolean; checked: number; firstBrokenId: string | null } | { error: string };
  /** Mutations that got a 2xx (their request ids). */
  mutations2xx: number;
  /** 2xx mutations without an audit entry of their request id. */
  missingAudit: (RequestRecord & { when: string })[];
  /** Lines of the control plane's log about audit entries that could not be written. */
  auditWriteFailures: string[];
  dir: string;
  wallSeconds: number;
}

/** CPU seconds (user + system) a process used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
  } catch {
    return 0;
  }
}

/** CPU seconds of a process and its children (the postmaster and its backends), from /proc. */
function treeCpuSeconds(root: number | undefined): number {
  if (!root) return 0;
  let total = cpuSeconds(root);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === root) total += cpuSeconds(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// ---------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Environment {
  dir: string;
  pg: OwnPostgres;
  redis: OwnRedis;
  docker: OwnDockerd;
  child: ChildProcess;
  url: string;
  prefix: string;
  logFile: string;
}

/**
 * Kills what we started, synchronously (the process is exiting): by PID only, then waits (at
 * most 10 s) until they are gone, so that the temp folder can be removed after them.
 */
function emergencyStop(env: Partial<Environment>): void {
  const pids = [env.child?.pid, env.pg?.pid(), env.redis?.pid, env.docker?.pid].filter((p): p is number => running(p));
  try {
    env.child?.kill('SIGKILL');
  } catch {
    // gone
  }
  env.pg?.kill();
  env.redis?.kill();
  env.docker?.kill();
  for (let waited = 0; waited < 10_000 && pids.some(running); waited += 50) pauseSync(50);
  env.docker?.killLeftovers();
  env.docker?.unmountLeftovers();
}

export async function runSoak(settings: SoakSettings): Promise<SoakResult> {
  const log = settings.log;
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const dir = mkdtempSync(join(tmpdir(), 'erp-soak-'));
  chmodSync(dir, 0o755);
  const env: Partial<Environment> = { dir };
  // However this process ends (a failure, a test timeout, Ctrl-C): what we started is stopped
  // by its PID and the temp folder removed.
  const cleanup = () => {
    emergencyStop(env);
    if (!settings.keep) rmSync(dir, { recursive: true, force: true });
  };
  const forget = onExit(cleanup);
  const onSignal = (signal: NodeJS.Signals) => process.exit(signal === 'SIGINT' ? 130 : 143);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`soak: temp folder ${dir}`);
    const [pg, redis, docker] = await Promise.all([
      OwnPostgres.create(join(dir, 'pg')),
      OwnRedis.create(),
      OwnDockerd.create(join(dir, 'docker')),
    ]);
    Object.assign(env, { pg, redis, docker });
    log(
      `soak: own PostgreSQL 127.0.0.1:${pg.port} (pid ${pg.pid()}), Redis 127.0.0.1:${redis.port} (pid ${redis.pid}), dockerd ${docker.socket} (pid ${docker.pid})`,
    );
    const prefix = 'soak:';
    const logFile = join(dir, 'control-plane.log');
    const unreachable = 'http://127.0.0.1:1';
    const childEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      OPS_DATABASE_URL: pg.url('erp_ops_soak'),
      OPS_MIGRATE_ON_START: 'true',
      OPS_REDIS_URL: redis.url,
      OPS_REDIS_PREFIX: prefix,
      OPS_LOG_LEVEL: 'info',
      OPS_RATE_LIMIT_PER_MINUTE: '1000000',
      OPS_REQUEST_TIMEOUT_MS: String(settings.requestTimeoutMs),
      OPS_SCHEDULER: 'true',
      OPS_STATS_SAMPLER: 'true',
      OPS_BOOTSTRAP_ADMIN_USERNAME: 'admin',
      OPS_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
      OPS_BOOTSTRAP_PASSWORD_FILE: join(dir, 'admin-password'),
      OPS_MASTER_KEY_FILE: join(dir, 'master-key'),
      OPS_AUDIT_ANCHOR_FILE: join(dir, 'audit-anchors.jsonl'),
      OPS_AUDIT_SPOOL_DIR: join(dir, 'audit-spool'),
      OPS_INVENTORY: join(projectRoot(), 'ops.example.yaml'),
      DOCKER_HOST: docker.host,
      ERP_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/erp_soak',
      ERP_REDIS_URL: 'redis://127.0.0.1:1/0',
      OPS_SMTP_URL: 'smtp://127.0.0.1:1',
      OPS_URL_BACKEND_HEALTH: `${unreachable}/health`,
      OPS_URL_BACKEND: unreachable,
      OPS_URL_PROMETHEUS: unreachable,
      OPS_URL_ALERTMANAGER: unreachable,
      OPS_URL_ELASTICSEARCH: unreachable,
      OPS_URL_GRAFANA: unreachable,
      OPS_URL_KIBANA: unreachable,
      OPS_URL_LOGSTASH: unreachable,
    };
    const nodeArgs = (process.env.SOAK_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const started = await startControlPlaneProcess(childEnv, { logFile, startMs: 60_000, nodeArgs });
    Object.assign(env, { child: started.child, url: started.url, prefix, logFile });
    log(`soak: control plane ${started.url} (pid ${started.child.pid}), log ${logFile}`);
    return await drive(settings, env as Environment, now, t0);
  } finally {
    forget();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await shutdown(env, log);
    if (!settings.keep) rmSync(dir, { recursive: true, force: true });
    else log(`soak: kept ${dir}`);
  }
}

async function shutdown(env: Partial<Environment>, log: (line: string) => void): Promise<void> {
  const child = env.child;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await Promise.all([
    env.pg?.stop().catch((error: Error) => (log(`soak: pg_ctl stop: ${error.message}`), env.pg?.kill())),
    env.redis?.stop(),
    env.docker?.stop(),
  ]);
}

const DRY_RUNS = ['backend.crash-loop', 'db.connection-pool-exhausted', 'api.high-latency'];
const GRAPHQL_QUERY = '{ me { username role } runs(limit: 5) { items { id status procedureId } } }';
/**
 * The mix, in per mille: mostly reads, as the admin panel and scripts use it, and about one
 * request in eight a mutation (a real run's slot turns into a read of that run while it is
 * in progress). Sign-ins are rare, as they are in use (an access token lasts 15 min; each
 * sign-in costs an argon2id verification, ~125 ms on 4 lanes here: 2 % of the requests would
 * take most of a core on their own).
 */
const WEIGHTS: [Op, number][] = [
  ['summary', 170],
  ['runs', 170],
  ['audit', 120],
  ['me', 170],
  ['graphql', 130],
  ['checklist', 45],
  ['dryrun', 50],
  ['run', 142],
  ['login', 3],
];
const WEIGHT_TOTAL = WEIGHTS.reduce((s, [, w]) => s + w, 0);

function pickOp(): Op {
  let r = Math.random() * WEIGHT_TOTAL;
  for (const [op, w] of WEIGHTS) {
    r -= w;
    if (r < 0) return op;
  }
  return 'me';
}

async function drive(settings: SoakSettings, env: Environment, now: () => number, t0: number): Promise<SoakResult> {
  const log = settings.log;
  const giveUpMs = settings.requestTimeoutMs + settings.marginMs + 5000;
  const http = new HttpClient(env.url, settings.clients + 20, giveUpMs);
  const probeHttp = new HttpClient(env.url, 8, giveUpMs);
  const redisKeys = new Redis(env.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 500 });
  redisKeys.on('error', () => undefined);
  let sequence = 0;
  const rid = (tag: string) => `soak-${tag}-${(++sequence).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    // Users: senior_dev (checklist, dry runs of P2 procedures, real runs of the P3 fixture).
    const adminLogin = await http.call('POST', '/api/v1/auth/login', {
      body: { username: 'admin', password: PASSWORD },
      requestId: rid('setup'),
    });
    if (adminLogin.status !== 200) throw new Error(`admin sign-in failed: ${adminLogin.status} ${JSON.stringify(adminLogin.body)}`);
    const admin = adminLogin.body.accessToken as string;
    const users: { username: string; token: string }[] = [];
    for (let i = 0; i < settings.users; i++) {
      const username = `soak.user${i}`;
      const created = await http.call('POST', '/api/v1/users', {
        token: admin,
        body: { username, password: PASSWORD, role: 'senior_dev' },
        requestId: rid('setup'),
      });
      if (created.status !== 201) throw new Error(`creating ${username} failed: ${created.status} ${JSON.stringify(created.body)}`);
      const login = await http.call('POST', '/api/v1/auth/login', { body: { username, password: PASSWORD }, requestId: rid('setup') });
      if (login.status !== 200) throw new Error(`${username} sign-in failed: ${login.status}`);
      users.push({ username, token: login.body.accessToken });
    }
    log(`soak: ${users.length} users signed in; ${settings.clients} clients`);

    const records: RequestRecord[] = [];
    const phases: PhaseResult[] = [];
    for (const name of settings.phases) {
      const phase = await runPhase(name, settings, env, http, probeHttp, users, admin, records, now, rid);
      phases.push(phase);
      log(
        `soak: ${name}: ${phase.requests} requests, ${phase.reqPerSec.toFixed(0)} req/s, p50 ${phase.p50.toFixed(0)} ms, p99 ${phase.p99.toFixed(0)} ms, ` +
          `5xx ${phase.status5xx} (503 ${phase.status503}, other ${phase.other5xx}), no answer ${phase.noAnswer}` +
          (phase.recovery
            ? `, recovery ${phase.recovery.totalMs === null ? 'none' : `${(phase.recovery.totalMs / 1000).toFixed(1)} s`}`
            : ''),
      );
    }

    // After the load: every run ends (bounded), and no lock stays with an ended run.
    const database = new Client({ connectionString: env.pg.url('erp_ops_soak') });
    await database.connect();
    try {
      // A backlog of queued runs drains at the worker's pace; a run without a live worker never
      // ends. So: wait while the number of open runs keeps falling, and give up when it has not
      // fallen for STALL_MS (longer than the sweep's 30 s period and its confirmation) or after 5 min.
      const loadEnd = now();
      const STALL_MS = 45_000;
      let settleMs: number | null = null;
      let lastOpen = Infinity;
      let lastProgress = now();
      for (;;) {
        const open = (await database.query("SELECT count(*)::int AS n FROM procedure_runs WHERE status IN ('running', 'queued')")).rows[0]
          .n as number;
        if (open === 0) {
          settleMs = now() - loadEnd;
          break;
        }
        if (open < lastOpen) {
          lastOpen = open;
          lastProgress = now();
        }
        if (now() - lastProgress > STALL_MS || now() - loadEnd > 300_000) break;
        await sleep(500);
      }
      const stuck = await database.query(
        "SELECT id, status, procedure_id AS procedure, created_at AS \"createdAt\" FROM procedure_runs WHERE status IN ('running', 'queued') ORDER BY created_at",
      );
      const byStatus = await database.query(
        'SELECT status, count(*)::int AS n FROM procedure_runs WHERE NOT dry_run GROUP BY status ORDER BY status',
      );
      await redisKeys.connect();
      const lockKeys = await redisKeys.keys(`${env.prefix}lock:*`);
      const heldLocks: SoakResult['heldLocks'] = [];
      for (const key of lockKeys) {
        const holder = await redisKeys.get(key);
        if (!holder) continue;
        const run = await database.query('SELECT status FROM procedure_runs WHERE id::text = $1', [holder]);
        const status: string | null = run.rows[0]?.status ?? null;
        if (status === null || !['running', 'queued'].includes(status)) heldLocks.push({ key, holder, status });
      }
      // Audit entries the database could not take while it was away wait in the spool and are
      // appended every few seconds: wait (bounded) until it is empty before looking for them.
      const spool = join(env.dir!, 'audit-spool');
      for (const end = now() + 60_000; now() < end; await sleep(250)) {
        let waiting: string[] = [];
        try {
          waiting = readdirSync(spool);
        } catch {
          // never created: nothing was spooled
        }
        if (waiting.length === 0) break;
      }
      const verify = await probeHttp.call('GET', '/api/v1/audit/verify', { token: admin, requestId: rid('verify') });
      const auditVerify = verify.status === 200 ? verify.body : { error: `${verify.status} ${JSON.stringify(verify.body)}` };

      const mutations = records.filter((r) => MUTATIONS.has(r.op) && r.status >= 200 && r.status < 300);
      const ids = mutations.map((r) => r.requestId);
      const found = new Set<string>();
      for (let i = 0; i < ids.length; i += 5000) {
        const rows = await database.query('SELECT request_id FROM audit_entries WHERE request_id = ANY($1::varchar[])', [
          ids.slice(i, i + 5000),
        ]);
        for (const row of rows.rows) found.add(row.request_id);
      }
      const missing = mutations
        .filter((r) => !found.has(r.requestId))
        .map((r) => {
          const p = phases.find((x) => x.name === r.phase);
          const answered = r.at + r.ms;
          const when =
            p?.downAt !== undefined && p.recovery
              ? `sent ${((r.at - p.downAt) / 1000).toFixed(2)} s, answered ${((answered - p.downAt) / 1000).toFixed(2)} s after ${r.phase} was stopped (answering again at ${((p.recovery.upAt - p.downAt) / 1000).toFixed(2)} s)`
              : `during ${r.phase}`;
          return { ...r, when };
        });
      const auditWriteFailures = readFileSync(env.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('audit entry could not be written'))
        .slice(0, 50);
      return {
        settings: { ...settings, log: undefined } as never,
        phases,
        runsByStatus: Object.fromEntries(byStatus.rows.map((r) => [r.status, r.n])),
        stuckRuns: stuck.rows.map((r) => ({ ...r, createdAt: new Date(r.createdAt).toISOString() })),
        settleMs,
        heldLocks,
        auditVerify,
        mutations2xx: mutations.length,
        missingAudit: missing,
        auditWriteFailures,
        dir: env.dir,
        wallSeconds: (performance.now() - t0) / 1000,
      };
    } finally {
      await database.end().catch(() => undefined);
    }
  } finally {
    http.close();
    probeHttp.close();
    redisKeys.disconnect();
  }
}

async function runPhase(
  name: PhaseName,
  settings: SoakSettings,
  env: Environment,
  http: HttpClient,
  probeHttp: HttpClient,
  users: { username: string; token: string }[],
  admin: string,
  records: RequestRecord[],
  now: () => number,
  rid: (tag: string) => string,
): Promise<PhaseResult> {
  const log = settings.log;
  const phaseStart = now();
  const cpuStart = { cp: cpuSeconds(env.child.pid), pg: treeCpuSeconds(env.pg.pid()), gen: process.cpuUsage() };
  let running = true;
  const phaseRecords: RequestRecord[] = [];

  const record = (op: Op, requestId: string, answer: Answer, at: number) => {
    let status = answer.status;
    let retryAfter = answer.retryAfter;
    let errorCode: string | undefined;
    let message: string | undefined;
    if (answer.status >= 400 && answer.body && typeof answer.body === 'object') {
      errorCode = answer.body.error;
      message = answer.body.message;
    }
    if (op === 'graphql' && answer.status === 200 && Array.isArray(answer.body?.errors) && answer.body.errors.length) {
      const first = answer.body.errors[0];
      status = Number(first.extensions?.status ?? 500);
      errorCode = first.extensions?.errorCode ?? first.extensions?.code;
      message = first.message;
      retryAfter = first.extensions?.retryAfter !== undefined ? String(first.extensions.retryAfter) : undefined;
    }
    const r: RequestRecord = {
      phase: name,
      op,
      requestId,
      status,
      httpStatus: answer.status,
      retryAfter,
      errorCode,
      message,
      failure: answer.failure,
      at,
      ms: answer.ms,
    };
    phaseRecords.push(r);
    return r;
  };

  const client = async (index: number) => {
    const user = users[index % users.length];
    let token = user.token;
    let lastRun: string | undefined;
    const slot = index;
    while (running) {
      let op = pickOp();
      if (op === 'run' && lastRun) op = 'runget';
      const requestId = rid(`${name.slice(0, 2)}${index}`);
      const at = now();
      let answer: Answer;
      switch (op) {
        case 'summary':
          answer = await http.call('GET', '/api/v1/health/summary', { token, requestId });
          break;
        case 'runs':
          answer = await http.call('GET', '/api/v1/runs?limit=20', { token, requestId });
          break;
        case 'audit':
          answer = await http.call('GET', '/api/v1/audit?limit=20', { token, requestId });
          break;
        case 'me':
          answer = await http.call('GET', '/api/v1/auth/me', { token, requestId });
          break;
        case 'graphql':
          answer = await http.call('POST', '/graphql', { token, body: { query: GRAPHQL_QUERY }, requestId });
          break;
        case 'checklist':
          answer = await http.call('POST', '/api/v1/checklists', { token, requestId });
          break;
        case 'dryrun':
          answer = await http.call('POST', `/api/v1/procedures/${DRY_RUNS[index % DRY_RUNS.length]}/runs`, {
            token,
            body: { dryRun: true },
            requestId,
          });
          break;
        case 'run':
          answer = await http.call('POST', '/api/v1/procedures/test.short/runs', {
            token,
            body: { parameters: { slot, waitMs: 500 } },
            requestId,
          });
          if (answer.status === 201) lastRun = answer.body.id;
          break;
        case 'runget':
          answer = await http.call('GET', `/api/v1/runs/${lastRun}`, { token, requestId });
          if (answer.status === 200 && !['running', 'queued'].includes(answer.body.status)) lastRun = undefined;
          if (answer.status === 404) lastRun = undefined;
          break;
        case 'login':
          answer = await http.call('POST', '/api/v1/auth/login', { body: { username: user.username, password: PASSWORD }, requestId });
          if (answer.status === 200) token = answer.body.accessToken;
          break;
      }
      const r = record(op, requestId, answer, at);
      const pause = settings.thinkMs > 0 ? Math.random() * 2 * settings.thinkMs : 0;
      if (r.status === 503 || r.status === 0) await sleep(Math.max(250, pause));
      else if (pause) await sleep(pause);
    }
  };

  let downAt: number | undefined;
  let recovery: Recovery | undefined;
  const clients = Array.from({ length: settings.clients }, (_, i) => client(i));
  try {
    if (name === 'steady') {
      await sleep(settings.steadySeconds * 1000);
    } else {
      await sleep(settings.leadSeconds * 1000);
      log(`soak: ${name}: stopping the control plane's ${name}`);
      downAt = now();
      if (name === 'postgres') await env.pg.stop();
      else if (name === 'redis') await env.redis.stop();
      else await env.docker.stop();
      await sleep(Math.max(0, settings.outageSeconds * 1000 - (now() - downAt)));
      if (name === 'postgres') await env.pg.start();
      else if (name === 'redis') await env.redis.start();
      else await env.docker.start();
      const upAt = now();
      log(`soak: ${name}: answering again after ${((upAt - downAt) / 1000).toFixed(1)} s`);
      recovery = await measureRecovery(name, probeHttp, admin, upAt, now, rid);
      await sleep(settings.tailSeconds * 1000);
    }
  } finally {
    running = false;
    await Promise.all(clients);
  }
  records.push(...phaseRecords);
  const wall = (now() - phaseStart) / 1000;
  const gen = process.cpuUsage(cpuStart.gen);
  // PostgreSQL's backends that ended during the phase are not counted (a restart loses them).
  const pgCpu = name === 'postgres' ? Number.NaN : (treeCpuSeconds(env.pg.pid()) - cpuStart.pg) / wall;
  const cpu = {
    controlPlane: (cpuSeconds(env.child.pid) - cpuStart.cp) / wall,
    postgres: pgCpu,
    loadGenerator: (gen.user + gen.system) / 1e6 / wall,
  };
  return { ...summarise(name, settings, phaseRecords, now() - phaseStart, downAt, recovery), cpu };
}

/** Probes every 100 ms from the moment the dependency answers again, until the service does (bounded: 60 s). */
async function measureRecovery(
  name: PhaseName,
  http: HttpClient,
  admin: string,
  upAt: number,
  now: () => number,
  rid: (tag: string) => string,
): Promise<Recovery> {
  const bound = 60_000;
  let readyMs: number | null = null;
  let readMs: number | null = null;
  let dependencyMs: number | null = name === 'docker' ? null : 0;
  const probe = async (until: () => boolean, attempt: () => Promise<boolean>, set: (ms: number) => void, every = 100) => {
    while (!until() && now() - upAt < bound) {
      const ok = await attempt();
      if (ok) {
        set(now() - upAt);
        return;
      }
      await sleep(every);
    }
  };
  await Promise.all([
    probe(
      () => readyMs !== null,
      async () => (await http.call('GET', '/health/ready', { requestId: rid('probe') })).status === 200,
      (ms) => (readyMs = ms),
    ),
    probe(
      () => readMs !== null,
      async () => {
        const a = await http.call('GET', '/api/v1/runs?limit=1', { token: admin, requestId: rid('probe') });
        return a.status === 200;
      },
      (ms) => (readMs = ms),
    ),
    name === 'docker'
      ? probe(
          () => dependencyMs !== null,
          async () => {
            // The engine seen through the control plane: a checklist whose services check is not "unreachable".
            const a = await http.call('POST', '/api/v1/checklists', { token: admin, requestId: rid('probe') });
            if (a.status !== 201 && a.status !== 200) return false;
            return !engineUnreachable(a.body);
          },
          (ms) => (dependencyMs = ms),
          250,
        )
      : Promise.resolve(),
  ]);
  const parts = [readyMs, readMs, dependencyMs];
  const totalMs = parts.some((p) => p === null) ? null : Math.max(...(parts as number[]));
  return { upAt, readyMs, readMs, dependencyMs, totalMs };
}

/** True when a checklist run says the Docker engine could not be reached. */
export function engineUnreachable(run: any): boolean {
  const items: any[] = run?.items ?? [];
  const services = items.find((i) => /services/i.test(String(i.item ?? i.id ?? i.title ?? '')));
  const checks: any[] = services?.checks ?? [];
  return checks.some((c) => c.verdict === 'unknown') || services?.verdict === 'unknown';
}

function summarise(
  name: PhaseName,
  settings: SoakSettings,
  records: RequestRecord[],
  ms: number,
  downAt: number | undefined,
  recovery: Recovery | undefined,
): Omit<PhaseResult, 'cpu'> {
  const latencies = records
    .filter((r) => r.status !== 0)
    .map((r) => r.ms)
    .sort((a, b) => a - b);
  const limit = settings.requestTimeoutMs + settings.marginMs;
  const byOp: PhaseResult['byOp'] = {};
  const samples: RequestRecord[] = [];
  let status5xx = 0;
  let status503 = 0;
  let without = 0;
  let other = 0;
  let noAnswer = 0;
  let over = 0;
  for (const r of records) {
    const o = (byOp[r.op] ??= { n: 0, s2xx: 0, s4xx: 0, s503: 0, other5xx: 0, p50: 0, p99: 0 });
    o.n++;
    let bad = false;
    if (r.status >= 200 && r.status < 300) o.s2xx++;
    else if (r.status >= 400 && r.status < 500) o.s4xx++;
    if (r.status >= 500) status5xx++;
    if (r.status === 503) {
      status503++;
      o.s503++;
      if (!r.retryAfter) {
        without++;
        bad = true;
      }
    } else if (r.status >= 500) {
      other++;
      o.other5xx++;
      bad = true;
    }
    if (r.status === 0) {
      noAnswer++;
      bad = true;
    }
    if (r.ms > limit) {
      over++;
      bad = true;
    }
    if (bad && samples.length < 20) samples.push(r);
  }
  for (const [op, o] of Object.entries(byOp)) {
    const times = records
      .filter((r) => r.op === op && r.status !== 0)
      .map((r) => r.ms)
      .sort((a, b) => a - b);
    o.p50 = Math.round(percentile(times, 50));
    o.p99 = Math.round(percentile(times, 99));
  }
  return {
    name,
    seconds: ms / 1000,
    requests: records.length,
    reqPerSec: records.length / (ms / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    maxMs: latencies.length ? latencies[latencies.length - 1] : 0,
    status5xx,
    status503,
    without503RetryAfter: without,
    other5xx: other,
    noAnswer,
    overTimeout: over,
    byOp,
    samples,
    downAt,
    recovery,
  };
}

/** The bench's table: per phase requests, req/s, p50/p99, 5xx, 503 (with Retry-After), recovery. */
export function formatTable(result: SoakResult): string {
  const rows = [
    [
      'phase',
      'requests',
      'req/s',
      'p50',
      'p99',
      'max',
      '5xx',
      '503',
      '503 w/o Retry-After',
      'other 5xx',
      'no answer',
      'recovery (ready / read / engine)',
      'CPU cores (control plane / PostgreSQL / load)',
    ],
  ];
  for (const p of result.phases) {
    const r = p.recovery;
    const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? '–' : `${(ms / 1000).toFixed(1)} s`);
    rows.push([
      p.name,
      String(p.requests),
      p.reqPerSec.toFixed(0),
      `${p.p50.toFixed(0)} ms`,
      `${p.p99.toFixed(0)} ms`,
      `${p.maxMs.toFixed(0)} ms`,
      String(p.status5xx),
      String(p.status503),
      String(p.without503RetryAfter),
      String(p.other5xx),
      String(p.noAnswer),
      r ? `${s(r.totalMs)} (${s(r.readyMs)} / ${s(r.readMs)}${p.name === 'docker' ? ` / ${s(r.dependencyMs)}` : ''})` : '–',
      `${p.cpu.controlPlane.toFixed(2)} / ${Number.isNaN(p.cpu.postgres) ? '–' : p.cpu.postgres.toFixed(2)} / ${p.cpu.loadGenerator.toFixed(2)}`,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => '| ' + r.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |').join('\n');
}

/** Every requirement the result does not meet, in words (empty: all met). */
export function problemsOf(
  result: SoakResult,
  settings: Pick<SoakSettings, 'requestTimeoutMs' | 'marginMs'>,
  recoveryBoundMs = 15_000,
): string[] {
  const problems: string[] = [];
  for (const p of result.phases) {
    if (p.name === 'steady') {
      if (p.status5xx) problems.push(`steady: ${p.status5xx} 5xx`);
    } else {
      if (p.other5xx) problems.push(`${p.name}: ${p.other5xx} 5xx other than 503`);
      if (p.without503RetryAfter) problems.push(`${p.name}: ${p.without503RetryAfter} 503 without Retry-After`);
      if (p.recovery?.totalMs === null || p.recovery?.totalMs === undefined)
        problems.push(`${p.name}: the service did not return within 60 s`);
      else if (p.recovery.totalMs > recoveryBoundMs)
        problems.push(`${p.name}: recovery took ${(p.recovery.totalMs / 1000).toFixed(1)} s (bound ${recoveryBoundMs / 1000} s)`);
    }
    if (p.noAnswer) problems.push(`${p.name}: ${p.noAnswer} requests without an answer`);
    if (p.overTimeout)
      problems.push(`${p.name}: ${p.overTimeout} requests took longer than ${settings.requestTimeoutMs} + ${settings.marginMs} ms`);
  }
  if (result.stuckRuns.length)
    problems.push(
      `${result.stuckRuns.length} run(s) still running or queued after the load: ${result.stuckRuns
        .slice(0, 5)
        .map((r) => `${r.id} ${r.status}`)
        .join(', ')}`,
    );
  if (result.heldLocks.length)
    problems.push(
      `${result.heldLocks.length} lock(s) held by ended runs: ${result.heldLocks
        .slice(0, 5)
        .map((l) => `${l.key} by ${l.holder} (${l.status})`)
        .join(', ')}`,
    );
  if (!('valid' in result.auditVerify) || !result.auditVerify.valid) problems.push(`audit chain: ${JSON.stringify(result.auditVerify)}`);
  if (result.missingAudit.length)
    problems.push(
      `${result.missingAudit.length} of ${result.mutations2xx} 2xx mutations have no audit entry: ${result.missingAudit
        .slice(0, 10)
        .map((m) => `${m.requestId} (${m.op} ${m.status}, ${m.when})`)
        .join('; ')}`,
    );
  return problems;
}

export function formatSummary(result: SoakResult): string {
  const lines: string[] = [];
  lines.push(
    `runs (real): ${
      Object.entries(result.runsByStatus)
        .map(([s, n]) => `${s} ${n}`)
        .join(', ') || 'none'
    }`,
  );
  lines.push(
    `every run ended ${result.settleMs === null ? 'NOT (their number stopped falling)' : `${(result.settleMs / 1000).toFixed(1)} s after the load`}; runs left open: ${result.stuckRuns.length}; locks held by ended runs: ${result.heldLocks.length}`,
  );
  lines.push(`audit chain: ${JSON.stringify(result.auditVerify)}`);
  lines.push(`2xx mutations: ${result.mutations2xx}, without an audit entry: ${result.missingAudit.length}`);
  for (const m of result.missingAudit.slice(0, 20)) lines.push(`  ${m.requestId}: ${m.op} → ${m.status}, ${m.when}`);
  if (result.auditWriteFailures.length)
    lines.push(
      `control plane log, audit writes that failed: ${result.auditWriteFailures.length}${result.auditWriteFailures.length >= 50 ? '+' : ''}, first: ${result.auditWriteFailures[0]}`,
    );
  for (const p of result.phases) {
    for (const s of p.samples.slice(0, 5))
      lines.push(
        `  ${p.name} sample: ${s.op} ${s.status} ${s.errorCode ?? ''} ${s.failure ?? ''} ${Math.round(s.ms)} ms ${s.requestId} ${(s.message ?? '').slice(0, 160)}`,
      );
  }
  lines.push(`wall time ${result.wallSeconds.toFixed(0)} s`);
  return `${lines.join('\n')}\n`;
}
