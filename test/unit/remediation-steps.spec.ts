import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { expect } from 'expect';
import { GB, gbToBytes } from '../../src/common/units';
import { Inventory } from '../../src/config/inventory.schema';
import { ContainerSummary, DbSession, EsIndex, HostResourcesPort, ImageSummary } from '../../src/integrations/contracts';
import { EscalationError } from '../../src/procedures/procedure';
import { latencyParameters, reportStep } from '../../src/modules/remediations/procedures/api-high-latency';
import { crashLoopParameters, shownDatabaseUrl } from '../../src/modules/remediations/procedures/backend-crash-loop';
import { poolParameters, poolSurvey } from '../../src/modules/remediations/procedures/db-connection-pool';
import { archiveLogsStep } from '../../src/modules/remediations/procedures/disk-cleanup/archive-step';
import { describeUsage, DiskUsage } from '../../src/modules/remediations/procedures/disk-cleanup/disk-usage';
import { pruneSelection } from '../../src/modules/remediations/procedures/disk-cleanup/prune-step';
import { diskCleanupParameters } from '../../src/modules/remediations/procedures/disk-cleanup/shared';
import { freeSpaceReport, shortOfSpace, usageStep, verifyStep } from '../../src/modules/remediations/procedures/disk-cleanup/usage-steps';
import { deletionPlan, indexSummary } from '../../src/modules/remediations/procedures/logs-elasticsearch-ingest/index-steps';
import { logsIngestParameters } from '../../src/modules/remediations/procedures/logs-elasticsearch-ingest/retention';
import { exampleInventory, stepContext } from '../helpers/step-context';

const inventory = exampleInventory();

/** The example inventory with some of its parts replaced (a copy: the original stays as loaded). */
function withInventory(patch: (copy: Inventory) => void): Inventory {
  const copy = structuredClone(inventory);
  patch(copy);
  return copy;
}

/** The first zod message of a refused parameter object. */
function refusal(schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } }, value: unknown) {
  const result = schema.safeParse(value);
  expect(result.success).toBe(false);
  return result.error!.issues[0].message;
}

function usage(device: number, freeBytes: number, usedBytes: number, p = `/data${device}`): DiskUsage {
  return {
    path: p,
    host: 'control-plane',
    measuredAt: p,
    device: String(device),
    sizeBytes: freeBytes + usedBytes,
    usedBytes,
    freeBytes,
    usedPercent: Math.round((usedBytes / (usedBytes + freeBytes)) * 1000) / 10,
  };
}

/** An ERP host adapter that must not be asked (the inventory has no data paths on the ERP host). */
const noHost: HostResourcesPort = {
  read: () => Promise.reject(new Error('the ERP host was asked')),
  diskUsage: () => Promise.reject(new Error('the ERP host was asked')),
  dockerDataRoot: () => Promise.reject(new Error('the ERP host was asked')),
};

describe('disk.cleanup steps: decimal GB, earlier outputs from the context', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'erp-steps-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  const local = (freeDiskGbMin: number) =>
    withInventory((i) => {
      i.stack.dataPaths = [];
      i.backups.directory = scratch;
      i.cleanup.archiveDirectory = path.join(scratch, 'archives');
      i.thresholds.freeDiskGbMin = freeDiskGbMin;
    });

  it('compares free space with freeDiskGbMin in decimal GB: 100 GB is 10^11 bytes', () => {
    expect(gbToBytes(inventory.thresholds.freeDiskGbMin)).toBe(1e11);
    const report = freeSpaceReport({}, [usage(1, 1e11, 5e11), usage(2, 1e11 - 1, 5e11)], {}, 100);
    expect(report.fileSystems.map((f) => f.meetsThreshold)).toEqual([true, false]);
    expect(report.fileSystems.map((f) => f.freeAfterGb)).toEqual([100, 100]);
    expect(report.meetsThreshold).toBe(false);
  });

  it('shows sizes as decimal GB (10^9 bytes), not GiB', () => {
    const shown = describeUsage(usage(1, 123_456_789_012, 2 * GB));
    expect(shown).toMatchObject({ freeBytes: 123_456_789_012, freeGb: 123.46, usedGb: 2, sizeGb: 125.46 });
    expect(shown).not.toHaveProperty('freeGiB');
    expect(describeUsage({ path: '/gone', error: 'cannot read its disk usage: EACCES' })).toEqual({
      path: '/gone',
      error: 'cannot read its disk usage: EACCES',
    });
  });

  it('escalates a file system still short of space: P2 below the fail band, P1 at it; the message says GB', () => {
    const short = freeSpaceReport({}, [usage(1, 99_990_000_000, 400 * GB, '/var/lib/docker')], { backups: 2 * GB, prune: 5e8 }, 100);
    const p2 = shortOfSpace(short, inventory)!;
    expect(p2).toBeInstanceOf(EscalationError);
    expect(p2.level).toBe('P2');
    expect(p2.message).toMatch(
      /^free space is still below 100 GB after the cleanup \(\/var\/lib\/docker: 99\.99 GB free, 80 % used; reclaimed 2\.5 GB\)/,
    );
    expect(p2.details).toMatchObject({
      meetsThreshold: false,
      reclaimedBytes: 2.5 * GB,
      nextStep: expect.stringMatching(/expand the disk/),
    });
    const full = freeSpaceReport({}, [usage(1, 10 * GB, 990 * GB)], {}, 100);
    expect(shortOfSpace(full, inventory)!.level).toBe('P1');
    expect(shortOfSpace(freeSpaceReport({}, [usage(1, 200 * GB, GB)], {}, 100), inventory)).toBeNull();
  });

  it('usage: df of the inventory paths, each with its free space in GB', async () => {
    const ctx = stepContext({}, { inventory: local(100) });
    const plan = await usageStep({ host: noHost }).plan(ctx);
    expect(plan.freeDiskGbMin).toBe(100);
    const out = await usageStep({ host: noHost }).run(ctx);
    const paths = out.paths as (DiskUsage & { freeGb: number })[];
    expect(paths.map((p) => p.path)).toEqual([scratch, path.join(scratch, 'archives')]);
    for (const p of paths) expect(p.freeGb).toBe(Math.round((p.freeBytes / 1e9) * 100) / 100);
    expect(out).toMatchObject({ freeBytesMin: Math.min(...paths.map((p) => p.freeBytes)), reclaimedBytes: 0 });
  });

  it("verify: reads the usage and the reclaiming steps' outputs from the context, not the runner's tables", async () => {
    const inv = local(0);
    const before = await usageStep({ host: noHost }).run(stepContext({}, { inventory: inv }));
    const outputs = {
      usage: before,
      backups: { reclaimedBytes: 3000 },
      vacuum: { reclaimedBytes: 20 },
      'archive-logs': { reclaimedBytes: 0 },
      prune: { reclaimedBytes: 100 },
    };
    const out = await verifyStep({ host: noHost }).run(stepContext({}, { inventory: inv, outputs }));
    expect(out.reclaimedByStep).toEqual({ backups: 3000, vacuum: 20, 'archive-logs': 0, prune: 100 });
    expect(out.reclaimedBytes).toBe(3120);
    expect(out.meetsThreshold).toBe(true);
    const [fs] = out.fileSystems as { freeBeforeBytes: number; paths: string[] }[];
    expect(fs.freeBeforeBytes).toBe((before.paths as DiskUsage[])[0].freeBytes);
    expect(fs.paths).toEqual([scratch, path.join(scratch, 'archives')]);
    // A step that did not run counts as nothing reclaimed.
    expect((await verifyStep({ host: noHost }).run(stepContext({}, { inventory: inv }))).reclaimedByStep).toEqual({
      backups: 0,
      vacuum: 0,
      'archive-logs': 0,
      prune: 0,
    });
  });

  it('verify: still short of an unreachable threshold escalates, naming the threshold in GB', async () => {
    const inv = withInventory((i) => {
      Object.assign(i, local(1_000_000));
      i.thresholds.diskPercent = { warn: 99, fail: 100 };
    });
    const error = await verifyStep({ host: noHost })
      .run(stepContext({}, { inventory: inv }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EscalationError);
    expect((error as EscalationError).message).toMatch(/^free space is still below 1000000 GB after the cleanup/);
    expect((error as EscalationError).level).toBe('P2');
  });

  it("reads the data paths on the ERP host (its node exporter's adapter), the backup and archive directories locally", async () => {
    const asked: string[][] = [];
    const erpHost = {
      ...noHost,
      diskUsage: async (paths: string[]) => {
        asked.push(paths);
        return paths.map((p) => ({
          path: p,
          mountpoint: '/srv',
          device: 'tmpfs',
          sizeBytes: 64 * 2 ** 20,
          usedBytes: 0,
          freeBytes: 64 * 2 ** 20,
          usedPercent: 0,
        }));
      },
    };
    const inv = withInventory((i) => {
      Object.assign(i, local(0));
      i.stack.dataPaths = ['/srv/erp-data'];
    });
    const out = await usageStep({ host: erpHost }).run(stepContext({}, { inventory: inv }));
    expect(asked).toEqual([['/srv/erp-data']]);
    const paths = out.paths as DiskUsage[];
    expect(paths.map((p) => [p.path, p.host, p.measuredAt])).toEqual([
      ['/srv/erp-data', 'erp', '/srv'],
      [scratch, 'control-plane', scratch],
      [path.join(scratch, 'archives'), 'control-plane', scratch],
    ]);
    expect(paths[0]).toMatchObject({ freeBytes: 64 * 2 ** 20, device: 'erp:tmpfs@/srv' });
    // The ERP host unreachable: its paths say so, the local ones are still measured.
    const down = { ...noHost, diskUsage: async () => Promise.reject(new Error('node exporter unreachable')) };
    const partial = await usageStep({ host: down }).run(stepContext({}, { inventory: inv }));
    expect((partial.paths as { path: string; error?: string }[])[0]).toEqual({
      path: '/srv/erp-data',
      error: "cannot read the ERP host's disk usage: node exporter unreachable",
    });
  });

  it("archive-logs plans a file named by the context's clock in the inventory's time zone", async () => {
    // The plan reads no adapter: the deps are not needed to say what would be written.
    const step = archiveLogsStep({ docker: null as never });
    const plan = await step.plan(stepContext({ logLines: 50 }, { now: new Date('2026-03-02T08:00:00Z') }));
    expect(plan).toMatchObject({ directory: '/archives', fileName: 'logs_backup_20260302_150000.txt', linesPerService: 50 });
    expect((plan.services as unknown[]).length).toBe(inventory.stack.services.length);
  });

  it('prune: never an inventory service, nor an image a remaining container uses', () => {
    const container = (name: string, state: string, imageId: string, labels: Record<string, string> = {}): ContainerSummary => ({
      id: `${name}-id-0000000000`,
      name,
      image: 'x',
      imageId,
      state,
      status: state,
      createdAt: '2026-01-01T00:00:00Z',
      labels,
      sizeRwBytes: 10,
    });
    const image = (id: string): ImageSummary => ({ id, repoTags: [], createdAt: '2026-01-01T00:00:00Z', sizeBytes: 1000 });
    const project = inventory.stack.composeProject;
    const all = [
      container('erp-grafana', 'exited', 'sha256:a'),
      container('leftover', 'exited', 'sha256:b'),
      container('renamed-backend', 'exited', 'sha256:c', {
        'com.docker.compose.project': project,
        'com.docker.compose.service': 'backend',
      }),
      container('running-one', 'running', 'sha256:d'),
    ];
    const chosen = pruneSelection(all, [image('sha256:b'), image('sha256:d')], inventory);
    expect(chosen.containers.map((c) => c.name)).toEqual(['leftover']);
    expect(chosen.kept.map((k) => [k.name, k.reason])).toEqual([
      ['erp-grafana', expect.stringMatching(/inventory service/)],
      ['renamed-backend', expect.stringMatching(/compose service backend/)],
    ]);
    expect(chosen.images.map((i) => i.id)).toEqual(['sha256:b']);
    expect(chosen.imagesKept).toEqual([{ id: 'sha256:d', sizeBytes: 1000, reason: 'used by running-one' }]);
  });

  it('parameters: keepLast and logLines are whole numbers in range; unknown keys refused', () => {
    expect(refusal(diskCleanupParameters, { keepLast: 0 })).toBe('must be a whole number of backups from 1 to 1000, for example 3');
    expect(refusal(diskCleanupParameters, { logLines: 1.5 })).toBe(
      'must be a whole number of log lines from 1 to 10000, for example 10000',
    );
    expect(diskCleanupParameters.safeParse({ keepLast: 3, extra: 1 }).success).toBe(false);
    expect(diskCleanupParameters.parse({})).toEqual({});
  });
});

describe('api.high-latency report: fed earlier outputs through the context', () => {
  it('suggests EXPLAIN ANALYZE, Redis and the slowest endpoint from the earlier outputs', async () => {
    const ctx = stepContext(latencyParameters.parse({}), {
      outputs: {
        'slow-queries': {
          source: 'pg_stat_statements',
          queries: [{ query: 'SELECT * FROM orders', calls: 3, meanMs: 2500, totalMs: 7500 }],
        },
        endpoints: { p95Seconds: 2.1, withinTarget: false, slowestEndpoints: [{ endpoint: '/api/orders', p95Seconds: 2.4 }] },
        redis: { usedMb: 600, limitMb: 512, withinLimit: false },
        restart: { restarted: false },
      },
    });
    const out = await reportStep.run(ctx);
    expect(out).toMatchObject({
      p95Seconds: 2.1,
      withinTarget: false,
      slowQueries: 1,
      slowQuerySource: 'pg_stat_statements',
      redisMb: 600,
      restarted: false,
    });
    const next = out.suggestedNextSteps as string[];
    expect(next).toHaveLength(3);
    expect(next[0]).toMatch(/^database: run EXPLAIN ANALYZE on the slowest query \(2500 ms mean: SELECT \* FROM orders\)/);
    expect(next[1]).toBe("Redis uses 600 MB (limit 512 MB): check the cache's key growth and eviction");
    expect(next[2]).toMatch(/^slowest endpoint \/api\/orders \(p95 2\.4 s\)/);
  });

  it('within the target: no action; a restart that ran is reported', async () => {
    const out = await reportStep.run(
      stepContext(latencyParameters.parse({ restartBackend: true }), {
        outputs: {
          'slow-queries': { source: 'v_slow_queries', queries: [] },
          endpoints: { p95Seconds: 0.2, withinTarget: true, slowestEndpoints: [] },
          redis: { usedMb: 10, withinLimit: true },
          restart: { restarted: true, health: 'healthy' },
        },
      }),
    );
    expect(out).toMatchObject({ restarted: true, suggestedNextSteps: ['p95 0.2 s is within the target (< 1 s): no action'] });
  });

  it('with no earlier outputs (nothing ran): nothing stands out, nothing known', async () => {
    const out = await reportStep.run(stepContext(latencyParameters.parse({})));
    expect(out).toEqual({
      p95Seconds: null,
      withinTarget: null,
      slowQueries: 0,
      slowQuerySource: 'none',
      redisMb: null,
      restarted: false,
      suggestedNextSteps: ['nothing stands out: escalate to the Senior Developer if users still report slowness'],
    });
  });

  it('parameters: defaults, a Prometheus range, a whole limit', () => {
    expect(latencyParameters.parse({})).toEqual({ window: '5m', limit: 10, restartBackend: false });
    expect(refusal(latencyParameters, { window: '5 minutes' })).toBe('must be a Prometheus range like 5m, 30s or 1h');
    expect(refusal(latencyParameters, { limit: 51 })).toBe('must be a whole number of rows from 1 to 50, for example 10');
    expect(refusal(latencyParameters, { restartBackend: 'yes' })).toBe('must be true or false');
  });
});

describe('logs.elasticsearch-ingest: plans from the indices and the clock', () => {
  const index = (name: string, health = 'green'): EsIndex => ({ index: name, health, status: 'open', docsCount: 10, storeSizeBytes: 1000 });
  const indices = [
    index('erp-backend-2026.01.30'),
    index('erp-backend-2026.01.31', 'yellow'),
    index('erp-backend-2026.03.02'),
    index('erp-nodate'),
  ];

  it('deletes by the UTC day in the name, older than the retention; a name without a date is never deleted', () => {
    const plan = deletionPlan(indices, new Date('2026-03-02T08:00:00Z'), 30, 'erp-*');
    expect(plan.keepFrom).toBe('2026.01.31');
    expect(plan.delete.map((d) => [d.index, d.ageDays])).toEqual([['erp-backend-2026.01.30', 31]]);
    expect(plan).toMatchObject({ deleteCount: 1, deleteDocs: 10, deleteBytes: 1000, keptCount: 2 });
    expect(plan.skipped.map((s) => s.index)).toEqual(['erp-nodate']);
  });

  it('summarises the indices by health', () => {
    const summary = indexSummary(indices, 'erp-*');
    expect(summary).toMatchObject({ count: 4, docsCount: 40, storeSizeBytes: 4000, byHealth: { green: 3, yellow: 1 } });
    expect(summary.notGreen).toEqual([{ index: 'erp-backend-2026.01.31', health: 'yellow', status: 'open' }]);
  });

  it('parameters: the same words as the other procedures', () => {
    expect(logsIngestParameters.parse({})).toEqual({ verifySeconds: 30 });
    expect(refusal(logsIngestParameters, { retentionDays: 0 })).toBe('must be a whole number of days from 1 to 3650, for example 30');
  });
});

describe('db.connection-pool-exhausted: which sessions to end', () => {
  const session = (
    pid: number,
    state: string | null,
    idleSeconds: number,
    application = 'erp-backend',
    backendType = 'client backend',
  ): DbSession => ({
    pid,
    user: 'erp',
    application,
    clientAddr: '10.0.0.2',
    state,
    stateSeconds: idleSeconds,
    backendType,
    query: '',
  });
  const sessions = [
    session(1, 'idle', 3600),
    session(2, 'idle in transaction', 2000),
    session(3, 'active', 9999),
    session(4, 'idle', 60),
    session(5, 'idle', 9999, 'erp-ops control plane'),
    session(6, 'idle', 9999, '', 'autovacuum worker'),
  ];
  const counts = (n: number) => ({
    total: n + 5,
    max: 200,
    byDatabase: [
      { database: 'erp_quty_karunia_prod', count: n },
      { database: 'postgres', count: 5 },
    ],
  });

  it('above the threshold: client sessions idle longer than the limit, never our own or workers', () => {
    const s = poolSurvey(counts(151), sessions, poolParameters.parse({}), inventory);
    expect(s.willTerminate).toBe(true);
    expect(s.reason).toBe('151 connections to erp_quty_karunia_prod > 150');
    expect(s.targets.map((t) => t.pid)).toEqual([1, 2]);
    expect(s.spared).toBe(4);
  });

  it('at or below it: nothing unless forced', () => {
    expect(poolSurvey(counts(150), sessions, poolParameters.parse({}), inventory)).toMatchObject({
      willTerminate: false,
      reason: '150 connections to erp_quty_karunia_prod ≤ 150: nothing to terminate (force: true to do it anyway)',
    });
    const forced = poolSurvey(counts(3), sessions, poolParameters.parse({ force: true, idleMinutes: 0.5 }), inventory);
    expect(forced).toMatchObject({ willTerminate: true, reason: 'forced (3 ≤ 150)', idleMinutes: 0.5 });
    expect(forced.targets.map((t) => t.pid)).toEqual([1, 2, 4]);
  });

  it("parameters: the threshold's message as the API has always worded it", () => {
    expect(refusal(poolParameters, { threshold: 2 ** 53 - 1 })).toBe(
      'must be a whole number of connections from 1 to 262143, for example 150',
    );
    expect(refusal(poolParameters, { idleMinutes: -1 })).toBe('must be a number of minutes from 0 to 1440, for example 30');
    expect(poolParameters.parse({})).toEqual({ force: false, restartBackend: true });
  });
});

describe('backend.crash-loop: what the diagnosis shows', () => {
  it('DATABASE_URL with its password masked; an invalid or missing one is not shown', () => {
    expect(shownDatabaseUrl({ DATABASE_URL: 'postgresql://erp:s3cr3t@db:5432/erp' })).toEqual({
      set: true,
      value: 'postgresql://erp:****@db:5432/erp',
    });
    expect(shownDatabaseUrl({ DATABASE_URL: 'not a url s3cr3t' })).toEqual({
      set: true,
      value: '(set, but not a valid URL: check its format; the value is not shown)',
    });
    expect(shownDatabaseUrl({})).toMatchObject({ set: false });
    expect(shownDatabaseUrl({ __error: 'no such container' })).toEqual({ error: 'no such container' });
  });

  it('parameters: whole seconds in range', () => {
    expect(refusal(crashLoopParameters, { deadlineSeconds: 4 })).toBe('must be a whole number of seconds from 5 to 3600, for example 120');
    expect(refusal(crashLoopParameters, { pauseSeconds: 301 })).toBe('must be a whole number of seconds from 0 to 300, for example 10');
    expect(crashLoopParameters.parse({})).toEqual({});
  });
});
