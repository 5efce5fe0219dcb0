/**
 * The ERP backend stand-in (erp-backend) and nginx in front of it: API shapes, /metrics,
 * and every fault switch as seen by a plain HTTP client and by the Docker engine.
 */
import { afterEach, describe, it } from 'node:test';
import { expect } from 'expect';
import * as net from 'node:net';
import { PORTS, get, request, healthStatus, waitFor, setFaultFile, restoreService, inspect } from './stack-helpers';

const B = PORTS.backend;

describe('backend stand-in', () => {
  afterEach(async () => {
    await restoreService('backend', B, '/health');
  });

  it('answers /health directly and through nginx', async () => {
    for (const port of [B, PORTS.nginx]) {
      const r = await get(port, '/health');
      expect(r.status).toBe(200);
      expect(r.json()).toEqual({ status: 'ok', timestamp: expect.any(String) });
    }
    expect((await get(PORTS.nginx, '/api/v1/products')).json().items.length).toBeGreaterThan(0);
  });

  it('serves /api/v1/auth/me for a bearer token and 401 without one', async () => {
    expect((await get(B, '/api/v1/auth/me')).status).toBe(401);
    const me = await get(B, '/api/v1/auth/me', { headers: { authorization: 'Bearer test' } });
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ username: 'admin', role: 'ADMIN' });
  });

  it('exposes the ERP metric names, moved by the built-in load generator', async () => {
    const text = await waitFor('load generator traffic in /metrics', async () => {
      const t = (await get(B, '/metrics')).body;
      return /http_requests_total\{method="GET",endpoint="\/api\/v1\/products",status="200"\} [1-9]/.test(t) ? t : '';
    });
    expect(text).toMatch(/# TYPE http_request_duration_seconds histogram/);
    expect(text).toMatch(/http_request_duration_seconds_bucket\{method="[A-Z]+",endpoint="[^"]+",le="0.005"\}/);
    expect(text).toMatch(/http_request_duration_seconds_bucket\{[^}]*le="\+Inf"\}/);
    for (const name of ['qt09_line_clearance_violations_total', 'transfer_handshake_failures_total', 'manufacturing_order_last_update_timestamp', 'qc_defects_total', 'qc_inspections_total', 'metal_detector_failure_alert']) {
      expect(text).toMatch(new RegExp(`^${name} `, 'm'));
    }
  });

  it('fault unhealthy (admin endpoint): /health answers 503 and Docker reports unhealthy', async () => {
    const set = await get(B, '/__fault', { method: 'POST', body: { unhealthy: true } });
    expect(set.json()).toEqual({ unhealthy: true });
    const h = await get(B, '/health');
    expect(h.status).toBe(503);
    expect(h.json().status).toBe('error');
    expect((await get(PORTS.nginx, '/health')).status).toBe(503);
    expect((await get(B, '/api/v1/products')).status).toBe(200);
    await waitFor('erp-backend unhealthy', async () => (await healthStatus('erp-backend')) === 'unhealthy');
    const c = await inspect('erp-backend');
    expect(c.State.Health.FailingStreak).toBeGreaterThanOrEqual(2);
  });

  it('fault status 5xx (file): every route answers 500, errors counted, Docker reports unhealthy', async () => {
    setFaultFile('backend', { status: 500 });
    await waitFor('500 from the API', async () => (await get(B, '/api/v1/work-orders')).status === 500);
    expect((await get(PORTS.nginx, '/api/v1/products')).status).toBe(500);
    await waitFor('erp-backend unhealthy', async () => (await healthStatus('erp-backend')) === 'unhealthy');
  });

  it('fault status limited by match: only the matching paths fail', async () => {
    setFaultFile('backend', { status: 503, match: '/api/v1/products' });
    await waitFor('503 on products', async () => (await get(B, '/api/v1/products')).status === 503);
    expect((await get(B, '/api/v1/work-orders')).status).toBe(200);
    expect((await get(B, '/health')).status).toBe(200);
  });

  it('fault delayMs: a client with a short timeout gives up, a patient one gets 200; Docker reports unhealthy', async () => {
    setFaultFile('backend', { delayMs: 4000 });
    await waitFor('slow /health', async () => {
      const r = await request(B, '/health', { timeoutMs: 1000 });
      return 'error' in r && r.error === 'timeout';
    });
    const patient = await get(B, '/health', { timeoutMs: 15000 });
    expect(patient.status).toBe(200);
    await waitFor('erp-backend unhealthy (healthcheck timeout 2 s)', async () => (await healthStatus('erp-backend')) === 'unhealthy');
  });

  it('fault hang: the connection is accepted but never answered; Docker reports unhealthy', async () => {
    setFaultFile('backend', { hang: true });
    await waitFor('hanging /health', async () => {
      const r = await request(B, '/health', { timeoutMs: 1500 });
      return 'error' in r && r.error === 'timeout';
    });
    // The TCP connection itself is accepted.
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(B, '127.0.0.1', () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
    await waitFor('erp-backend unhealthy', async () => (await healthStatus('erp-backend')) === 'unhealthy');
  });
});
