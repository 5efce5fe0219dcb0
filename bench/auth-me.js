#!/usr/bin/env node
/**
 * Benchmark (issue 2): authenticated GET /api/v1/auth/me with a JWT, 64 connections for
 * 10 s with autocannon, against a bare Fastify server run in the same invocation that
 * verifies the same JWT and returns the same JSON. Prints the control plane's requests/s
 * as a ratio of the bare server's, and its p99 latency.
 *
 *   npm run bench:auth   (BENCH_SECONDS=10, BENCH_CONNECTIONS=64 by default;
 *                         BENCH_RATE_LIMIT=0 or BENCH_LOG_LEVEL=warn to see what each costs)
 *
 * Everything listens on 127.0.0.1. The control plane runs as in production (access log
 * on, written to /dev/null; rate limiting on with a limit the run cannot reach, so its
 * Redis round trip is included), against its own database erp_ops_bench.
 */
const { spawn } = require('node:child_process');
const { benchState } = require('./bench-state');
const { createServer } = require('node:net');
const { openSync } = require('node:fs');
const { join } = require('node:path');
const autocannon = require('autocannon');
const jwt = require('jsonwebtoken');

const ROOT = join(__dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';
const PASSWORD = 'bench-password-123456';
const ISSUER = 'erp-ops-control-plane';
const AUDIENCE = 'erp-ops';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitFor(url, ms = 60000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer`);
}

async function startControlPlane() {
  const port = await freePort();
  const out = openSync('/dev/null', 'w');
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      OPS_PORT: String(port),
      OPS_HOST: '127.0.0.1',
      OPS_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/erp_ops_bench',
      OPS_REDIS_PREFIX: 'bench:',
      ...benchState('erp_ops_bench'),
      OPS_JWT_SECRET: SECRET,
      OPS_BOOTSTRAP_ADMIN_USERNAME: 'bench',
      OPS_BOOTSTRAP_ADMIN_PASSWORD: PASSWORD,
      OPS_RATE_LIMIT_PER_MINUTE: process.env.BENCH_RATE_LIMIT ?? '1000000',
      OPS_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      NODE_ENV: 'production',
    },
    stdio: ['ignore', out, 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}/health`);
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bench', password: PASSWORD }),
  });
  if (!res.ok) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const { accessToken } = await res.json();
  const me = await (await fetch(`${base}/api/v1/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } })).json();
  return {
    base,
    token: accessToken,
    me,
    stop: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      }),
  };
}

/** The baseline, in its own process (bench/bare-auth-server.js), like the control plane. */
function startBare(body) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'bare-auth-server.js')], {
      env: { ...process.env, BENCH_SECRET: SECRET, BENCH_ISSUER: ISSUER, BENCH_AUDIENCE: AUDIENCE, BENCH_BODY: JSON.stringify(body) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.once('data', (chunk) =>
      resolve({
        base: `http://127.0.0.1:${String(chunk).trim()}`,
        stop: () =>
          new Promise((r) => {
            child.once('exit', r);
            child.kill('SIGTERM');
          }),
      }),
    );
    child.once('error', reject);
  });
}

function load(base, token) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `${base}/api/v1/auth/me`, connections: CONNECTIONS, duration: SECONDS, headers: { authorization: `Bearer ${token}` } },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

async function main() {
  const cp = await startControlPlane();
  const bare = await startBare(cp.me);
  let r;
  try {
    // Warm both up, then measure the baseline and the control plane back to back.
    await load(bare.base, cp.token).then(
      () => undefined,
      () => undefined,
    );
    await load(cp.base, cp.token).then(
      () => undefined,
      () => undefined,
    );
    const baseline = await load(bare.base, cp.token);
    const measured = await load(cp.base, cp.token);
    r = {
      bareRps: baseline.requests.average,
      rps: measured.requests.average,
      ratio: measured.requests.average / baseline.requests.average,
      p99: measured.latency.p99,
      bareP99: baseline.latency.p99,
      non2xx: measured.non2xx + measured.errors,
    };
  } finally {
    await bare.stop();
    await cp.stop();
  }
  console.log(
    `GET /api/v1/auth/me with a JWT, ${CONNECTIONS} connections, ${SECONDS} s each (autocannon), baseline = bare Fastify verifying the same JWT`,
  );
  console.log(
    `control plane ${r.rps.toFixed(0).padStart(6)} req/s, p99 ${String(r.p99).padStart(4)} ms | bare ${r.bareRps.toFixed(0).padStart(6)} req/s, p99 ${r.bareP99} ms | ratio ${r.ratio.toFixed(2)} (target >= 0.6)${r.non2xx ? ` | ${r.non2xx} non-2xx!` : ''}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
