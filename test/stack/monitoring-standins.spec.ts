/**
 * Grafana, Kibana and Logstash stand-ins: response shapes, and the fault switches crash on
 * start (a crash loop Docker counts), log lines with errors, unhealthy.
 */
import { afterEach, describe, it } from 'node:test';
import { expect } from 'expect';
import * as net from 'node:net';
import { PORTS, get, request, inspect, logsSince, waitFor, setFaultFile, restoreService } from './stack-helpers';

describe('grafana, kibana and logstash stand-ins', () => {
  afterEach(async () => {
    await restoreService('grafana', PORTS.grafana, '/api/health');
    await restoreService('kibana', PORTS.kibana, '/api/status');
    await restoreService('logstash', PORTS.logstashApi, '/');
  });

  it('Grafana /api/health answers database ok, and 503 "failing" when unhealthy', async () => {
    expect((await get(PORTS.grafana, '/api/health')).json()).toEqual({ database: 'ok', version: expect.any(String), commit: expect.any(String) });
    setFaultFile('grafana', { unhealthy: true });
    const r = await waitFor('grafana failing', async () => {
      const x = await get(PORTS.grafana, '/api/health');
      return x.status === 503 ? x : null;
    });
    expect(r.json().database).toBe('failing');
  });

  it('Kibana /api/status: available, degraded with 200, unavailable with 503', async () => {
    expect((await get(PORTS.kibana, '/api/status')).json().status.overall.level).toBe('available');
    await get(PORTS.kibana, '/__fault', { method: 'POST', body: { unhealthy: 'degraded' } });
    const d = await get(PORTS.kibana, '/api/status');
    expect(d.status).toBe(200);
    expect(d.json().status.overall.level).toBe('degraded');
    await get(PORTS.kibana, '/__fault', { method: 'POST', body: { unhealthy: 'unavailable' } });
    const u = await get(PORTS.kibana, '/api/status');
    expect(u.status).toBe(503);
    expect(u.json().status.overall.level).toBe('unavailable');
  });

  it('fault crashOnStart: the process exits at every start, Docker restarts it and RestartCount rises', async () => {
    const before = (await inspect('erp-kibana')).RestartCount as number;
    setFaultFile('kibana', { crashOnStart: true });
    expect((await get(PORTS.kibana, '/__crash', { method: 'POST' })).status).toBe(202);
    const c = await waitFor('restart count +2', async () => {
      const x = await inspect('erp-kibana');
      return x.RestartCount >= before + 2 ? x : null;
    });
    expect(['restarting', 'running', 'exited']).toContain(c.State.Status);
    const r = await request(PORTS.kibana, '/api/status', { timeoutMs: 2000 });
    expect('error' in r && r.error).toBe('refused');
    expect(await logsSince('erp-kibana', 0)).toContain('crash-on-start fault switch is set');
  });

  it('fault logErrors: ERROR lines appear in the container log (Docker logs API)', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await get(PORTS.grafana, '/__fault', { method: 'POST', body: { logErrors: true } });
    const logs = await waitFor('ERROR lines in docker logs', async () => {
      const l = await logsSince('erp-grafana', since);
      return /"level":"ERROR".*simulated error/.test(l) ? l : '';
    }, 15000);
    expect(logs).toMatch(/ERROR/);
    expect((await get(PORTS.grafana, '/api/health')).status).toBe(200);
  });

  it('Logstash takes json lines on tcp and counts them in /_node/stats', async () => {
    const before = (await get(PORTS.logstashApi, '/_node/stats')).json();
    expect(before.pipelines.main.events).toEqual(expect.objectContaining({ in: expect.any(Number), out: expect.any(Number) }));
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(PORTS.logstash, '127.0.0.1', () => {
        s.end(JSON.stringify({ type: 'backend', level: 'INFO', message: 'test event' }) + '\n', () => resolve());
      });
      s.on('error', reject);
    });
    await waitFor('event counted', async () => (await get(PORTS.logstashApi, '/_node/stats')).json().events.out > before.events.out);
  });

  it('Logstash fault 5xx and hang on the monitoring API', async () => {
    setFaultFile('logstash', { status: 503 });
    await waitFor('503', async () => (await get(PORTS.logstashApi, '/_node/stats')).status === 503);
    setFaultFile('logstash', { hang: true });
    await waitFor('hang', async () => {
      const r = await request(PORTS.logstashApi, '/_node/stats', { timeoutMs: 1000 });
      return 'error' in r && r.error === 'timeout';
    });
  });
});
