/**
 * The stand-in stack as a whole: ten containers with compose labels, healthchecks where the
 * real stack has them, the host network with no bridge, every listening socket on 127.0.0.1,
 * status.sh and the inventory.
 */
import { describe, it } from 'node:test';
import { expect } from 'expect';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { SERVICES, HEALTHCHECKED, REPO_ROOT, docker, inspect, sh, healthStatus, waitFor } from './stack-helpers';

describe('stand-in stack', () => {
  it('runs ten containers with the compose labels, host network and a restart policy', async () => {
    const filters = encodeURIComponent(JSON.stringify({ label: ['com.docker.compose.project=erp'] }));
    const list = (await docker('GET', `/containers/json?all=true&filters=${filters}`)).body as any[];
    const names = list.map((c) => c.Names[0].replace(/^\//, '')).sort();
    expect(names).toEqual(SERVICES.map((s) => `erp-${s}`).sort());
    for (const s of SERVICES) {
      const c = await inspect(`erp-${s}`);
      expect(c.Config.Labels).toMatchObject({
        'com.docker.compose.project': 'erp',
        'com.docker.compose.service': s,
        'com.docker.compose.container-number': '1',
        'com.docker.compose.oneoff': 'False',
      });
      expect(c.HostConfig.NetworkMode).toBe('host');
      expect(c.HostConfig.RestartPolicy.Name).toBe('unless-stopped');
      expect(Boolean(c.Config.Healthcheck?.Test?.length)).toBe(HEALTHCHECKED.includes(s));
      expect(c.Config.Image).toBe('erp-stack-base:1');
      for (const m of c.Mounts.filter((x: any) => x.Destination === '/usr' || x.Destination === '/stack')) expect(m.RW).toBe(false);
    }
  });

  it('postgres and redis are healthy (their healthchecks: pg_isready, redis-cli ping)', async () => {
    for (const s of ['erp-postgres', 'erp-redis']) await waitFor(`${s} healthy`, async () => (await healthStatus(s)) === 'healthy');
  });

  it('has no bridge: ip -4 addr shows no docker0, and no bridge link exists', () => {
    const addr = sh('ip', ['-4', 'addr']);
    expect(addr).not.toMatch(/docker0|br-[0-9a-f]/);
    expect(sh('ip', ['link', 'show', 'type', 'bridge']).trim()).toBe('');
    const drivers = sh('docker', ['network', 'ls', '--format', '{{.Driver}}']).trim().split('\n');
    expect(drivers).not.toContain('bridge');
  });

  it('every listening socket of the stack is on 127.0.0.1 (ss -ltnp)', async () => {
    const pids = new Set<number>();
    for (const s of SERVICES) {
      const top = (await docker('GET', `/containers/erp-${s}/top?ps_args=-eo%20pid`)).body;
      if (top && Array.isArray(top.Processes)) for (const p of top.Processes) pids.add(Number(p[0]));
    }
    expect(pids.size).toBeGreaterThanOrEqual(10);
    const lines = sh('ss', ['-H', '-ltnp']).trim().split('\n');
    const ours = lines.filter((l) => [...l.matchAll(/pid=(\d+)/g)].some((m) => pids.has(Number(m[1]))));
    expect(ours.length).toBeGreaterThanOrEqual(11);
    for (const l of ours) {
      const local = l.trim().split(/\s+/)[3];
      expect(`${local} ${l}`).toMatch(/^127\.0\.0\.1:\d+ /);
    }
    for (const port of [15432, 16379, 18000, 18080, 19090, 13000, 19093, 19200, 15000, 19600, 15601]) {
      expect(ours.some((l) => l.includes(`127.0.0.1:${port} `))).toBe(true);
    }
  });

  it('status.sh prints one row per container, matching docker ps', () => {
    let out: string;
    try {
      out = sh('bash', [path.join(REPO_ROOT, 'scripts/stack/status.sh')]);
    } catch (err: any) {
      out = String(err.stdout); // exit 1 while another test holds a fault
    }
    const ps = sh('docker', ['ps', '-a', '--filter', 'label=com.docker.compose.project=erp', '--format', '{{.Names}} {{.State}}']).trim().split('\n');
    for (const row of ps) {
      const [name, state] = row.split(' ');
      expect(out).toMatch(new RegExp(`^${name}\\s+${state}\\s`, 'm'));
    }
    expect(out).toMatch(/^erp-postgres\s+running\s+healthy\s+\d+\s+127\.0\.0\.1:15432$/m);
    expect(out).toMatch(/^erp-nginx\s+running\s+-\s+\d+\s+127\.0\.0\.1:18080$/m);
  });

  it('writes the inventory with the structure of ops.example.yaml', () => {
    const inv = yaml.load(fs.readFileSync(path.join(REPO_ROOT, 'stack/ops.stack.yaml'), 'utf8')) as any;
    const example = yaml.load(fs.readFileSync(path.join(REPO_ROOT, 'ops.example.yaml'), 'utf8')) as any;
    expect(Object.keys(inv).sort()).toEqual(Object.keys(example).sort());
    for (const k of Object.keys(example)) {
      if (example[k] && typeof example[k] === 'object' && !Array.isArray(example[k])) expect(Object.keys(inv[k]).sort()).toEqual(Object.keys(example[k]).sort());
    }
    expect(inv.erpDatabase.url).toBe('postgres://postgres:erp-stack-dev@127.0.0.1:15432/erp_quty_karunia_prod');
    expect(inv.stack.services.map((s: any) => s.container)).toEqual(SERVICES.map((s) => `erp-${s}`));
    for (const url of Object.values(inv.urls) as string[]) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
  });
});
