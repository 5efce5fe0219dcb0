import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { projectRoot } from '../src/common/paths';
import { Role } from '../src/common/rights';
import { startTestApp, TestApp } from './helpers/test-app';

describe('inventory: served with secrets masked, validated at boot', () => {
  let t: TestApp;
  let viewer: string;
  const SECRET = 's3cr3t-Pa55word';

  before(async () => {
    t = await startTestApp({
      env: {
        ERP_DATABASE_URL: `postgres://erp_admin:${SECRET}@127.0.0.1:15432/erp_quty_karunia_production`,
        ERP_REDIS_URL: `redis://:${SECRET}@127.0.0.1:16379/0`,
        OPS_SMTP_URL: `smtp://mailer:${SECRET}@127.0.0.1:2525`,
        OPS_CHAT_WEBHOOK_URL: `https://hooks.example.com/services/T0/B0/${SECRET}`,
        OPS_URL_PROMETHEUS: 'http://127.0.0.1:19090',
        ERP_API_TOKEN: `erp-api-${SECRET}`,
      },
    });
    viewer = await t.tokenFor(Role.Viewer);
  });
  after(() => t.close());

  it('GET /api/v1/inventory applies environment overrides and masks every secret', async () => {
    const res = await t.http().get('/api/v1/inventory').set('Authorization', `Bearer ${viewer}`);
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    const doc = res.body.document;
    expect(doc.erpDatabase.url).toBe('postgres://erp_admin:****@127.0.0.1:15432/erp_quty_karunia_production');
    expect(doc.erpRedis.url).toBe('redis://:****@127.0.0.1:16379/0');
    expect(doc.notifications.smtpUrl).toBe('smtp://mailer:****@127.0.0.1:2525');
    expect(doc.notifications.chatWebhookUrl).toBe('https://hooks.example.com/****');
    expect(doc.urls.prometheus).toBe('http://127.0.0.1:19090');
    expect(doc.apiCheck).toEqual({ path: '/api/v1/auth/me', token: '****' });
    expect(res.body.services).toHaveLength(10);
    expect(res.body.services.find((s: { name: string }) => s.name === 'nginx')).toEqual({
      name: 'nginx',
      container: 'erp-nginx',
      healthcheck: false,
      tier: 2,
      critical: true,
    });
    expect(res.body.services.filter((s: { critical: boolean }) => !s.critical).map((s: { name: string }) => s.name)).toEqual([
      'prometheus',
      'grafana',
      'alertmanager',
      'elasticsearch',
      'logstash',
      'kibana',
    ]);
    expect(doc.escalation.P1.responseMinutes).toBe(5);
    const gql = await t.gql(viewer, '{ inventory { composeProject document } }');
    expect(gql.body.data.inventory.composeProject).toBe('erp');
    expect(JSON.stringify(gql.body)).not.toContain(SECRET);
    expect(t.logs.join('')).not.toContain(SECRET);
  });

  describe('boot validation (the real process)', () => {
    const main = join(projectRoot(), 'dist/src/main.js');
    const boot = (inventory: string, env: Record<string, string> = {}) => {
      const dir = mkdtempSync(join(tmpdir(), 'ops-inv-'));
      const file = join(dir, 'ops.yaml');
      writeFileSync(file, inventory);
      return spawnSync(process.execPath, [main], {
        env: { ...process.env, OPS_INVENTORY: file, OPS_PORT: '0', ...env },
        encoding: 'utf8',
        timeout: 20000,
      });
    };
    const example = readFileSync(join(projectRoot(), 'ops.example.yaml'), 'utf8');

    it('stops with a message naming the key, the problem and an example', () => {
      const res = boot(example.replace('prometheus: http://localhost:9090', 'prometheus: not-a-url'));
      expect(res.status).toBe(78);
      expect(res.stderr).toContain('urls.prometheus: must be a http or https URL, for example http://localhost:9090 (got "not-a-url")');
    });

    it('names a missing key, an unknown key and a bad threshold band together', () => {
      const broken = example
        .replace(/^erpRedis:\n {2}url: .*\n/m, '')
        .replace('timezone: Asia/Jakarta', 'timezone: Asia/Jakarta\ncolour: blue')
        .replace('cpuPercent:         { warn: 60, fail: 70 }', 'cpuPercent:         { warn: 90, fail: 70 }');
      const res = boot(broken);
      expect(res.status).toBe(78);
      expect(res.stderr).toMatch(/erpRedis: is required/);
      expect(res.stderr).toMatch(/unknown key\(s\) "colour"/);
      expect(res.stderr).toMatch(/thresholds.cpuPercent: warn must not be above fail, for example \{ warn: 60, fail: 70 \}/);
    });

    it('never prints a secret in a validation message', () => {
      const res = boot(example, { ERP_DATABASE_URL: `mysql://root:${SECRET}@db/erp` });
      expect(res.status).toBe(78);
      expect(res.stderr).toContain('erpDatabase.url');
      expect(res.stderr).not.toContain(SECRET);
    });

    it('stops on bad on-call hours, naming the path of each problem', () => {
      const broken = example.replace(
        '      overrides: []   #',
        '      hours: [{ days: [monday, fri], from: "8:00", to: "17:00" }, { days: [sat], from: "09:00", to: "09:00" }]\n      overrides: []   #',
      );
      expect(broken).not.toBe(example);
      const res = boot(broken);
      expect(res.status).toBe(78);
      expect(res.stderr).toContain(
        'incidents.rotations.1.hours.0.days.0: must be a day: mon, tue, wed, thu, fri, sat or sun (got "monday")',
      );
      expect(res.stderr).toContain('incidents.rotations.1.hours.0.from: must be a time of day HH:MM, for example 08:00 (got "8:00")');
      expect(res.stderr).toContain('incidents.rotations.1.hours.1.to: must not equal from: a window 22:00 to 06:00 runs overnight');
    });

    it('stops on a bad environment variable, naming it', () => {
      const res = boot(example, { OPS_PORT: 'eighty' });
      expect(res.status).toBe(78);
      expect(res.stderr).toContain('OPS_PORT: must be a whole number, for example 3100 (got "eighty")');
    });
  });
});
