/**
 * Helpers of the stand-in stack tests: plain HTTP (node:http, so a hanging server shows as a
 * timeout), the Docker Engine API on its unix socket, and the fault switch files.
 * The tests assume the stack is up (scripts/stack/ensure.sh). They run with node:test and the
 * `expect` package.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Client } from 'pg';

/** The checkout's root, found from here (test/stack) or from the compiled copy (dist/test/stack). */
function findRepoRoot(): string {
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = start; dir !== path.dirname(dir); dir = path.dirname(dir)) {
      if (fs.existsSync(path.join(dir, 'scripts/stack/up.sh'))) return dir;
    }
  }
  throw new Error(`no scripts/stack/up.sh above ${__dirname} or ${process.cwd()}`);
}
export const REPO_ROOT = findRepoRoot();
export const FAULT_DIR = path.join(REPO_ROOT, 'stack/run/faults');
export const RUN_DIR = path.join(REPO_ROOT, 'stack/run');

export const PORTS = {
  postgres: 15432,
  redis: 16379,
  backend: 18000,
  nginx: 18080,
  prometheus: 19090,
  grafana: 13000,
  alertmanager: 19093,
  elasticsearch: 19200,
  logstash: 15000,
  logstashApi: 19600,
  kibana: 15601,
} as const;

export const SERVICES = ['postgres', 'redis', 'backend', 'nginx', 'prometheus', 'grafana', 'alertmanager', 'elasticsearch', 'logstash', 'kibana'];
export const HEALTHCHECKED = ['postgres', 'redis', 'backend', 'elasticsearch'];
export const DATABASE_URL = 'postgres://postgres:erp-stack-dev@127.0.0.1:15432/erp_quty_karunia_prod';

export interface HttpResult {
  status: number;
  body: string;
  json<T = any>(): T;
}

export type HttpOutcome = HttpResult | { error: 'timeout' | 'refused' | string };

/** One HTTP request to 127.0.0.1; resolves with the response or an error kind (never throws). */
export function request(port: number, urlPath: string, opts: { method?: string; body?: unknown; timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        method: opts.method || 'GET',
        agent: false,
        headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}), ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode || 0, body, json: () => JSON.parse(body) });
        });
        res.on('error', (e) => resolve({ error: e.message }));
      },
    );
    req.setTimeout(opts.timeoutMs ?? 5000, () => {
      req.destroy();
      resolve({ error: 'timeout' });
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code === 'ECONNREFUSED' ? 'refused' : e.message }));
    if (payload) req.write(payload);
    req.end();
  });
}

/** HTTP request that must answer. */
export async function get(port: number, urlPath: string, opts: Parameters<typeof request>[2] = {}): Promise<HttpResult> {
  const r = await request(port, urlPath, opts);
  if ('error' in r) throw new Error(`${opts.method || 'GET'} 127.0.0.1:${port}${urlPath}: ${r.error}`);
  return r;
}

/** Docker Engine API over /var/run/docker.sock. */
export function docker<T = any>(method: string, apiPath: string): Promise<{ status: number; body: T; raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: '/var/run/docker.sock', path: apiPath, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        let body: any = raw.toString('utf8');
        try {
          body = JSON.parse(body);
        } catch {
          /* logs are not JSON */
        }
        resolve({ status: res.statusCode || 0, body, raw });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export async function inspect(container: string): Promise<any> {
  const r = await docker('GET', `/containers/${container}/json`);
  if (r.status !== 200) throw new Error(`docker inspect ${container}: HTTP ${r.status}`);
  return r.body;
}

/** Demultiplex docker logs (8-byte frame headers, no TTY). */
export async function logsSince(container: string, sinceSeconds: number): Promise<string> {
  const r = await docker('GET', `/containers/${container}/logs?stdout=1&stderr=1&since=${sinceSeconds}`);
  const buf = r.raw;
  let out = '';
  for (let i = 0; i + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + len).toString('utf8');
    i += 8 + len;
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until fn returns a truthy value; throws with the last value after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false | ''>, timeoutMs = 60000, everyMs = 500): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T | null | undefined | false | '' = undefined;
  let lastErr: unknown;
  while (Date.now() < until) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      lastErr = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)}${lastErr ? `, error: ${String(lastErr)}` : ''})`);
}

/** Write a stand-in's fault switch file (the stand-in re-reads it within 250 ms). */
export function setFaultFile(service: string, state: Record<string, unknown>): void {
  fs.mkdirSync(FAULT_DIR, { recursive: true });
  const file = path.join(FAULT_DIR, `${service}.json`);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(state) + '\n');
  fs.renameSync(`${file}.tmp`, file);
}

export const healthStatus = async (container: string): Promise<string> => (await inspect(container)).State.Health?.Status ?? 'none';

/** Clear a service's switches and wait until its container runs (and is healthy, if it has a healthcheck). */
export async function restoreService(service: string, port: number, probePath: string): Promise<void> {
  setFaultFile(service, {});
  const container = `erp-${service}`;
  await waitFor(`${container} running and answering`, async () => {
    const c = await inspect(container);
    if (c.State.Status !== 'running') return false;
    const r = await request(port, probePath, { timeoutMs: 2000 });
    return !('error' in r) && r.status < 500;
  }, 90000);
  if (HEALTHCHECKED.includes(service)) {
    await waitFor(`${container} healthy`, async () => (await healthStatus(container)) === 'healthy', 90000);
  }
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

/** One query on the stand-in's PostgreSQL (any database of it), as the superuser. */
export async function stackSql<T = any>(database: string, text: string): Promise<T[]> {
  const client = new Client({ connectionString: DATABASE_URL.replace(/\/[^/]*$/, `/${database}`) });
  client.on('error', () => undefined); // a killed server surfaces as the query's error
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

