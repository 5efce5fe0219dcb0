/**
 * Host readings come from the ERP host, not from the control plane's machine. The stand-in
 * ERP host (its node exporter, scripts/stack/common.sh) has a data volume this machine does
 * not have: a tmpfs at /srv that only the exporter's view of the host holds. With the
 * inventory's data path on that volume, the checklist and the daily review must report the
 * volume's figures, never what statfs on the control plane's own machine says.
 */
import { statfs, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { startTestApp, TestApp } from '../helpers/test-app';
import { docker, inspect, sh } from '../stack/stack-helpers';

const STACK_INVENTORY = 'stack/ops.stack.yaml';
const DATA_PATH = '/srv/erp-data';

/** The control plane's own statfs of a path (of its nearest existing parent): what the adapter must NOT report. */
async function ownDisk(path: string): Promise<{ sizeBytes: number; freeBytes: number }> {
  const exists = (p: string) =>
    stat(p).then(
      () => true,
      () => false,
    );
  let measured = path;
  while (!(await exists(measured))) measured = dirname(measured);
  const fs = await statfs(measured);
  return { sizeBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
}

type Check = { check: string; verdict: string; observed: string; details?: Record<string, any> };

describe('host readings from the ERP host (node exporter), not the control plane', { concurrency: false }, () => {
  let t: TestApp;
  let operator: string;
  /** The data volume's size as the stand-in configured it (the exporter container's tmpfs mount), read from Docker. */
  let volumeBytes: number;
  let dockerRoot: string;

  before(async () => {
    const exporter = await inspect('erp-node-exporter');
    const tmpfs = (exporter.HostConfig.Mounts ?? []).find((m: any) => m.Type === 'tmpfs' && m.Target === '/host/srv');
    volumeBytes = Number(tmpfs?.TmpfsOptions?.SizeBytes);
    dockerRoot = (await docker('GET', '/info')).body.DockerRootDir;
    t = await startTestApp({
      inventoryFile: STACK_INVENTORY,
      inventoryPatch: (doc) => {
        doc.stack.dataPaths = [DATA_PATH];
      },
    });
    operator = await t.tokenFor(Role.Operator);
  });
  after(() => t.close());

  it('the stand-in ERP host has a data volume the control plane does not', async () => {
    expect(volumeBytes).toBe(64 * 2 ** 20);
    expect((await ownDisk(DATA_PATH)).sizeBytes).not.toBe(volumeBytes);
  });

  it("the checklist's disk check reports the ERP host's volume and the Docker data root", async () => {
    const res = await t.http().post('/api/v1/checklists').set('Authorization', `Bearer ${operator}`);
    expect(res.status).toBe(201);
    const checks: Check[] = res.body.items.flatMap((i: { checks: Check[] }) => i.checks);
    const data = checks.find((c) => c.check === `metric:disk:${DATA_PATH}`)!;
    expect(data).toMatchObject({ verdict: 'pass', details: { path: DATA_PATH, mountpoint: '/srv', device: 'tmpfs' } });
    expect(data.details!.sizeBytes).toBe(volumeBytes);
    expect(data.details!.freeBytes).toBeLessThanOrEqual(volumeBytes);
    expect(data.observed).toBe(`0 % used, 0.1 GB free (/srv on the ERP host)`);
    const own = await ownDisk(DATA_PATH);
    expect(data.details!.sizeBytes).not.toBe(own.sizeBytes);
    expect(data.details!.freeBytes).not.toBe(own.freeBytes);
    const root = checks.find((c) => c.check === `metric:disk:${dockerRoot}`)!;
    expect(root.details).toMatchObject({ path: dockerRoot, mountpoint: dockerRoot });
  });

  it("the daily review's disk figures are the ERP host's, in decimal GB", async () => {
    const res = await t.http().post('/api/v1/reviews/daily').set('Authorization', `Bearer ${operator}`).send({});
    expect(res.status).toBe(201);
    const metrics = res.body.dashboards.flatMap((d: { metrics: unknown[] }) => d.metrics);
    const free = metrics.find((m: { metric: string }) => m.metric === 'free-disk');
    expect(free).toMatchObject({ unit: 'GB', verdict: 'fail', observed: `0.1 GB free on ${DATA_PATH}` });
    expect(free.value).toBeCloseTo(volumeBytes / 1e9, 3);
    const disk = metrics.find((m: { metric: string }) => m.metric === 'disk');
    expect(disk.details.paths).toEqual([{ path: DATA_PATH, mountpoint: '/srv', usedPercent: 0, freeGb: 0.1 }]);
  });

  it("the System Overview judges the ERP host's disk against its own target (< 80 %), the hourly check against 85 %", async () => {
    const FILL = '/host/srv/erp-data-fill';
    // Really fill the ERP host's data volume (the exporter's tmpfs) to a share of its size.
    const fill = (share: number) =>
      sh('docker', ['exec', 'erp-node-exporter', 'sh', '-c', `head -c ${Math.round(volumeBytes * share)} /dev/zero > ${FILL}`]);
    const judged = async () => {
      const review = await t.http().post('/api/v1/reviews/daily').set('Authorization', `Bearer ${operator}`).send({});
      expect(review.status).toBe(201);
      const overview = review.body.dashboards.find((d: { dashboard: string }) => d.dashboard === 'system-overview');
      const hourly = await t.http().post('/api/v1/checklists?kind=hourly').set('Authorization', `Bearer ${operator}`);
      expect(hourly.status).toBe(201);
      const checks: Check[] = hourly.body.items.flatMap((i: { checks: Check[] }) => i.checks);
      return {
        overview: overview.metrics.find((m: { metric: string }) => m.metric === 'disk'),
        overviewTargets: Object.fromEntries(overview.metrics.map((m: { metric: string; target: string }) => [m.metric, m.target])),
        hourly: checks.find((c) => c.check === `metric:disk:${DATA_PATH}`)!,
      };
    };
    try {
      fill(0.77);
      const at77 = await judged();
      expect(at77.overviewTargets).toMatchObject({
        cpu: '< 50 % (warn at 40 %)',
        memory: '< 70 % (warn at 60 %)',
        disk: '< 80 % used (warn at 75 %)',
      });
      expect(at77.overview).toMatchObject({ verdict: 'warn', observed: `77 % used on ${DATA_PATH}` });
      expect(at77.hourly.verdict).toBe('pass');
      fill(0.83);
      const at83 = await judged();
      expect(at83.overview).toMatchObject({ verdict: 'fail', observed: `83 % used on ${DATA_PATH}` });
      expect(at83.hourly.verdict).toBe('warn');
    } finally {
      sh('docker', ['exec', 'erp-node-exporter', 'rm', '-f', FILL]);
    }
    const emptied = await judged();
    expect(emptied.overview).toMatchObject({ verdict: 'pass', observed: `0 % used on ${DATA_PATH}` });
    expect(emptied.hourly.verdict).toBe('pass');
  });
});
