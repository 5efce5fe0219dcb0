/**
 * Prometheus and Alertmanager of the stand-in stack: the live scrape of the backend with the
 * ERP's job name, the ERP's alert rules, Alertmanager's v2 API, and the week of history
 * loaded by scripts/stack/history.js (stack/run/history.json tells what was loaded).
 */
import { describe, it } from 'node:test';
import { expect } from 'expect';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PORTS, RUN_DIR, get, waitFor } from './stack-helpers';

const P = PORTS.prometheus;
const q = (query: string, time: number) => get(P, `/api/v1/query?query=${encodeURIComponent(query)}&time=${time}`).then((r) => r.json());

describe('prometheus and alertmanager', () => {
  it('scrapes the backend as job erp-backend and loads the erp_production rules', async () => {
    await waitFor('erp-backend target up', async () => {
      const t = (await get(P, '/api/v1/targets')).json();
      return t.data.activeTargets.some((x: any) => x.labels.job === 'erp-backend' && x.health === 'up');
    }, 60000, 1000);
    const rules = (await get(P, '/api/v1/rules')).json();
    const group = rules.data.groups.find((g: any) => g.name === 'erp_production');
    const names = group.rules.map((r: any) => r.name);
    expect(names).toEqual(expect.arrayContaining(['HighAPILatency', 'HighErrorRate', 'APIServiceDown', 'BackupFailed', 'MetalDetectorFailureAlert', 'TooManyAlerts']));
    const am = (await get(P, '/api/v1/alertmanagers')).json();
    expect(am.data.activeAlertmanagers[0].url).toMatch(/^http:\/\/127\.0\.0\.1:19093\//);
  });

  it('Alertmanager answers API v2 with clustering disabled and a webhook receiver', async () => {
    const s = (await get(PORTS.alertmanager, '/api/v2/status')).json();
    expect(s.cluster.status).toBe('disabled');
    expect(s.config.original).toContain('http://127.0.0.1:3100/api/v1/alerts/webhook');
    const receivers = (await get(PORTS.alertmanager, '/api/v2/receivers')).json().map((r: any) => r.name);
    expect(receivers).toEqual(expect.arrayContaining(['default', 'on-call', 'dba-team']));
  });

  describe('a week of history', () => {
    const info = JSON.parse(fs.readFileSync(path.join(RUN_DIR, 'history.json'), 'utf8'));

    it('covers the past week for at least 40 endpoints with the live labels', async () => {
      expect(info.end - info.start).toBeGreaterThanOrEqual(7 * 86400 - 60);
      const r = (await get(P, `/api/v1/query_range?query=${encodeURIComponent('count by (endpoint) (http_requests_total{job="erp-backend",instance="127.0.0.1:18000"})')}&start=${info.start}&end=${info.end}&step=3600`)).json();
      expect(r.status).toBe('success');
      expect(r.data.result.length).toBeGreaterThanOrEqual(40);
      for (const series of r.data.result) expect(series.values.length).toBeGreaterThanOrEqual(7 * 24 - 1);
      const first = await q('sum(rate(http_requests_total{job="erp-backend"}[5m]))', info.start + 3600);
      expect(Number(first.data.result[0].value[1])).toBeGreaterThan(0);
    });

    it('shows the error burst at its documented time and not outside it', async () => {
      const ratio = 'sum(rate(http_requests_total{job="erp-backend",status=~"5.."}[5m])) / sum(rate(http_requests_total{job="erp-backend"}[5m]))';
      const during = await q(ratio, info.errorBurst.start + 15 * 60);
      expect(Number(during.data.result[0].value[1])).toBeGreaterThan(0.1);
      const before = await q(ratio, info.errorBurst.start - 3600);
      expect(Number(before.data.result[0].value[1])).toBeLessThan(0.01);
    });

    it('shows the latency spike at its documented time (p95 above 1 s) and not outside it', async () => {
      const p95 = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="erp-backend"}[5m])))';
      expect(Number((await q(p95, info.latencySpike.start + 20 * 60)).data.result[0].value[1])).toBeGreaterThan(1);
      expect(Number((await q(p95, info.latencySpike.start - 3600)).data.result[0].value[1])).toBeLessThan(1);
    });

    it('has a daily pattern: business hours busier than the night', async () => {
      const rate = 'sum(rate(http_requests_total{job="erp-backend"}[5m]))';
      const today = Math.floor(info.end / 86400) * 86400;
      const d = today - 86400 * (new Date((today - 86400) * 1000).getUTCDay() % 6 === 0 ? 3 : 1); // a recent weekday
      const noon = Number((await q(rate, d + 3 * 3600)).data.result[0].value[1]); // 10:00 WIB
      const night = Number((await q(rate, d + 19 * 3600)).data.result[0].value[1]); // 02:00 WIB
      expect(noon).toBeGreaterThan(night * 3);
    });
  });
});
