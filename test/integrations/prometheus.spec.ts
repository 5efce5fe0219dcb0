/**
 * Prometheus adapter against the stand-in's real Prometheus (erp-prometheus, 127.0.0.1:19090).
 */
import { describe, it } from 'node:test';
import { expect } from 'expect';
import * as http from 'node:http';
import * as net from 'node:net';
import { Prometheus, parsePromValue } from '../../src/integrations/prometheus/prometheus';
import { closedPort, failure, stackInventory, startHangingServer, timesOut } from './helpers';

const inventory = stackInventory();
const T = { timeoutMs: 5000 };

describe('Prometheus', () => {
  const prom = new Prometheus(inventory.urls.prometheus);

  it('instant query `up` returns the erp-backend target as a number', async () => {
    const samples = await prom.query('up', T);
    const backend = samples.find((s) => s.metric.job === 'erp-backend');
    expect(backend).toBeDefined();
    expect(backend!.metric.instance).toBe('127.0.0.1:18000');
    expect(backend!.value).toBe(1);
    expect(samples.find((s) => s.metric.job === 'prometheus')?.value).toBe(1);
  });

  it('evaluates at a given time', async () => {
    const samples = await prom.query('time()', { ...T, time: new Date('2026-01-02T03:04:05Z') });
    expect(samples).toEqual([{ metric: {}, value: Date.parse('2026-01-02T03:04:05Z') / 1000 }]);
  });

  it('converts "NaN", "+Inf" and "-Inf" sample values', async () => {
    const [inf] = await prom.query('vector(1/0)', T);
    expect(inf.value).toBe(Number.POSITIVE_INFINITY);
    const [neg] = await prom.query('vector(-1/0)', T);
    expect(neg.value).toBe(Number.NEGATIVE_INFINITY);
    const [nan] = await prom.query('vector(0/0)', T);
    expect(Number.isNaN(nan.value)).toBe(true);
    expect(parsePromValue('0.25')).toBe(0.25);
    expect(parsePromValue('1e3')).toBe(1000);
    expect(Number.isNaN(parsePromValue(''))).toBe(true);
  });

  it("a bad PromQL is bad_response with Prometheus's own message", async () => {
    const e = await failure(prom.query('sum(rate(http_requests_total[5m]) by', T), 'bad_response', 'prometheus');
    expect(e.status).toBe(400);
    expect(e.message).toContain('bad_data');
    expect(e.message).toMatch(/parse error/);
    const range = await failure(
      prom.queryRange('up{', { start: new Date(Date.now() - 60000), end: new Date(), stepSeconds: 15 }, T),
      'bad_response',
    );
    expect(range.message).toMatch(/parse error/);
  });

  it('query_range returns series of unix seconds and numbers side by side', async () => {
    const end = new Date();
    const start = new Date(end.getTime() - 10 * 60 * 1000);
    const series = await prom.queryRange('up{job="erp-backend"}', { start, end, stepSeconds: 60 }, T);
    expect(series.length).toBe(1);
    expect(series[0].metric.job).toBe('erp-backend');
    expect(series[0].values.length).toBeGreaterThan(0);
    expect(series[0].times.length).toBe(series[0].values.length);
    for (const [i, t] of series[0].times.entries()) {
      const v = series[0].values[i];
      expect(t).toBeGreaterThanOrEqual(start.getTime() / 1000 - 1);
      expect(t).toBeLessThanOrEqual(end.getTime() / 1000 + 1);
      expect([0, 1]).toContain(v); // 0 while another suite held the target down
    }
  });

  it('a long query is POSTed form-encoded', async () => {
    const long = `sum(up{job=~"${Array.from({ length: 600 }, (_, i) => `job${i}`).join('|')}|erp-backend"})`;
    expect(long.length).toBeGreaterThan(3000);
    const [s] = await prom.query(long, T);
    expect(s.value).toBe(1);
  });

  it('a server that never answers is a timeout; a refused connection is unreachable', async () => {
    const hang = await startHangingServer();
    try {
      await timesOut((timeoutMs) => new Prometheus(hang.url).query('up', { timeoutMs }), 300, 'prometheus');
    } finally {
      await hang.close();
    }
    await failure(new Prometheus(`http://127.0.0.1:${await closedPort()}`).query('up', T), 'unreachable', 'prometheus');
  });

  it('something that is not Prometheus is bad_response', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login</html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const e = await failure(new Prometheus(`http://127.0.0.1:${port}`).query('up', T), 'bad_response');
      expect(e.message).toContain('not JSON');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
