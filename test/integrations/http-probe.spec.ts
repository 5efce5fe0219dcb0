/**
 * HttpProbe against the backend stand-in (direct and through nginx) and its fault switches.
 * Every switch set here is limited to one path (`match`) so that /health stays healthy, and is
 * cleared afterwards even when the test fails.
 */
import { after, describe, it } from 'node:test';
import { expect } from 'expect';
import { HttpProbe, PROBE_TEXT_LIMIT } from '../../src/integrations/http/http-probe';
import { PORTS, get, restoreService } from '../stack/stack-helpers';
import { closedPort, failure, stackInventory, startHangingServer, timesOut } from './helpers';
import * as http from 'node:http';
import * as net from 'node:net';

const inventory = stackInventory();
const T = { timeoutMs: 5000 };
const B = inventory.urls.backend;

async function setBackendFault(state: Record<string, unknown>): Promise<void> {
  const r = await get(PORTS.backend, '/__fault', { method: 'POST', body: state });
  expect(r.status).toBe(200);
}

async function clearBackendFault(): Promise<void> {
  await get(PORTS.backend, '/__fault', { method: 'DELETE' });
  await restoreService('backend', PORTS.backend, '/health');
}

describe('HttpProbe', () => {
  const probe = new HttpProbe({ ...inventory.urls });

  after(async () => {
    await clearBackendFault();
  });

  it('GETs /health through nginx: 200 with the JSON body parsed', async () => {
    const r = await probe.get(inventory.urls.backendHealth, T);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok', timestamp: expect.any(String) });
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    expect(r.contentType).toMatch(/json/);
  });

  it('returns a text body as text, bounded to 64 KiB', async () => {
    const r = await probe.get(`${B}/metrics`, T);
    expect(r.status).toBe(200);
    expect(typeof r.body).toBe('string');
    expect(r.body as string).toMatch(/http_requests_total/);
    expect(Buffer.byteLength(r.body as string)).toBeLessThanOrEqual(PROBE_TEXT_LIMIT);
  });

  it('any HTTP status is a result: 401, 404 and a 5xx fault', async () => {
    expect((await probe.get(`${B}/api/v1/auth/me`, T)).status).toBe(401);
    expect((await probe.get(`${B}/no-such-page`, T)).status).toBe(404);
    try {
      await setBackendFault({ status: 503, match: '/api/v1/work-orders' });
      const r = await probe.get(`${B}/api/v1/work-orders`, T);
      expect(r.status).toBe(503);
      expect((await probe.get(`${B}/health`, T)).status).toBe(200);
    } finally {
      await clearBackendFault();
    }
  });

  it("the backend's hang fault is a timeout within the deadline", async () => {
    try {
      await setBackendFault({ hang: true, match: '/api/v1/products' });
      const e = await timesOut((timeoutMs) => probe.get(`${B}/api/v1/products`, { timeoutMs }), 500);
      expect(e.system).toBe('backend');
      expect(e.message).toContain('/api/v1/products');
      expect(e.message).toContain('500 ms');
    } finally {
      await clearBackendFault();
    }
  });

  it('a server that accepts and never answers is a timeout; so is one that stops in the middle of the body', async () => {
    const hang = await startHangingServer();
    try {
      const e = await timesOut((timeoutMs) => probe.get(`${hang.url}/health`, { timeoutMs }), 300, 'http');
      expect(e.message).toContain(`127.0.0.1:${hang.port}`);
    } finally {
      await hang.close();
    }
    const stalls = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part, then nothing');
    });
    await new Promise<void>((resolve) => stalls.listen(0, '127.0.0.1', resolve));
    try {
      const port = (stalls.address() as net.AddressInfo).port;
      await timesOut((timeoutMs) => probe.get(`http://127.0.0.1:${port}/`, { timeoutMs }), 300);
    } finally {
      stalls.closeAllConnections();
      stalls.close();
    }
  });

  it('connection refused is unreachable', async () => {
    const port = await closedPort();
    const e = await failure(probe.get(`http://127.0.0.1:${port}/health`, T), 'unreachable', 'http');
    expect(e.message).toMatch(/connection refused/);
  });

  it("aborts on the caller's signal", async () => {
    const hang = await startHangingServer();
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const started = Date.now();
      const e = await failure(probe.get(hang.url, { timeoutMs: 5000, signal: controller.signal }), 'timeout');
      expect(e.message).toContain('aborted');
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await hang.close();
    }
  });

  it('sends URL credentials as Basic auth and never shows them', async () => {
    let seen = '';
    const server = http.createServer((req, res) => {
      seen = req.headers.authorization ?? '';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await probe.get(`http://admin:pa55word@127.0.0.1:${port}/x`, T);
      expect(r.body).toEqual({ ok: true });
      expect(seen).toBe(`Basic ${Buffer.from('admin:pa55word').toString('base64')}`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
    const closed = await closedPort();
    const e = await failure(probe.get(`http://admin:pa55word@127.0.0.1:${closed}/x`, T), 'unreachable');
    expect(e.message).not.toContain('pa55word');
  });

  it('bounds a large text body to 64 KiB and says so', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('x'.repeat(300 * 1024));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await probe.get(`http://127.0.0.1:${port}/`, T);
      expect((r.body as string).length).toBe(PROBE_TEXT_LIMIT);
      expect(r.truncated).toBe(true);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
