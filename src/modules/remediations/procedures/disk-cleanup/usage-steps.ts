/** Disk cleanup's first and last steps: df before, and df after against thresholds.freeDiskGbMin. */
import { formatGb, gbToBytes, toGb } from '../../../../common/units';
import { Inventory, Severity } from '../../../../config/inventory.schema';
import { defineStep, EscalationError, StepOutput } from '../../../../procedures/procedure';
import { byFileSystem, describeUsage, DiskUsage, measure } from './disk-usage';
import { DiskCleanupDeps, DiskCleanupParameters, explained } from './shared';

/** The steps whose outputs carry `reclaimedBytes`, in order. */
export const RECLAIMING_STEPS = ['backups', 'vacuum', 'archive-logs', 'prune'] as const;

export const usageStep = ({ host }: Pick<DiskCleanupDeps, 'host'>) =>
  defineStep<DiskCleanupParameters>({
    id: 'usage',
    title: 'Disk usage (df) of the data paths, the backup and the archive directories',
    timeoutMs: 30_000,
    plan: async (ctx) => {
      const { paths } = await measure(ctx.inventory, host, ctx.signal);
      return { paths: paths.map(describeUsage), freeDiskGbMin: ctx.inventory.thresholds.freeDiskGbMin };
    },
    run: (ctx) =>
      explained(
        'reading the disk usage',
        'check stack.dataPaths, stack.nodeExporterUrl (the ERP host), backups.directory and cleanup.archiveDirectory in the inventory',
        async () => {
          const { paths, usable } = await measure(ctx.inventory, host, ctx.signal);
          return { paths: paths.map(describeUsage), freeBytesMin: Math.min(...usable.map((u) => u.freeBytes)), reclaimedBytes: 0 };
        },
      ),
  });

export interface FreeSpaceReport {
  freeDiskGbMin: number;
  fileSystems: {
    paths: string[];
    freeBeforeBytes: number | null;
    freeAfterBytes: number;
    freedBytes: number | null;
    freeAfterGb: number;
    usedPercent: number;
    meetsThreshold: boolean;
  }[];
  reclaimedByStep: Record<string, number>;
  reclaimedBytes: number;
  meetsThreshold: boolean;
}

/**
 * Free space after the cleanup against thresholds.freeDiskGbMin (decimal GB: the runbook's
 * "100 GB free"), per file system, beside the `usage` step's figures and each step's reclaimed bytes.
 */
export function freeSpaceReport(
  usageOutput: StepOutput,
  after: DiskUsage[],
  reclaimedByStep: Record<string, number>,
  freeDiskGbMin: number,
): FreeSpaceReport {
  const before = new Map<string, DiskUsage>();
  for (const u of (usageOutput.paths ?? []) as DiskUsage[])
    if (typeof u?.device === 'string' && !before.has(u.device)) before.set(u.device, u);
  const minBytes = gbToBytes(freeDiskGbMin);
  const fileSystems = [...byFileSystem(after).values()].map((f) => {
    const was = before.get(f.device);
    return {
      paths: f.paths,
      freeBeforeBytes: was?.freeBytes ?? null,
      freeAfterBytes: f.freeBytes,
      freedBytes: was ? f.freeBytes - was.freeBytes : null,
      freeAfterGb: toGb(f.freeBytes),
      usedPercent: f.usedPercent,
      meetsThreshold: f.freeBytes >= minBytes,
    };
  });
  const reclaimedBytes = Object.values(reclaimedByStep).reduce((a, b) => a + b, 0);
  return { freeDiskGbMin, fileSystems, reclaimedByStep, reclaimedBytes, meetsThreshold: fileSystems.every((f) => f.meetsThreshold) };
}

/**
 * The escalation for a report still short of space (DevOps must add disk), or null. P1 when
 * a short file system is at the fail band of thresholds.diskPercent (inserts fail soon).
 */
export function shortOfSpace(report: FreeSpaceReport, inventory: Inventory): EscalationError | null {
  const short = report.fileSystems.filter((f) => !f.meetsThreshold);
  if (!short.length) return null;
  const level: Severity = short.some((f) => f.usedPercent >= inventory.thresholds.diskPercent.fail) ? 'P1' : 'P2';
  const where = short.map((f) => `${f.paths.join(', ')}: ${formatGb(f.freeAfterBytes)} free, ${f.usedPercent} % used`).join('; ');
  return new EscalationError(
    `free space is still below ${report.freeDiskGbMin} GB after the cleanup (${where}; reclaimed ${formatGb(report.reclaimedBytes)}): contact DevOps to expand the disk (LVM) or move backups to external storage`,
    {
      ...report,
      nextStep: 'contact DevOps to expand the disk (LVM), or move backups to external storage (runbook Issue 3, "If still issues")',
    },
    level,
  );
}

export const verifyStep = ({ host }: Pick<DiskCleanupDeps, 'host'>) =>
  defineStep<DiskCleanupParameters>({
    id: 'verify',
    title: 'Free space after vs before, bytes reclaimed per step, against thresholds.freeDiskGbMin',
    timeoutMs: 60_000,
    plan: async (ctx) => {
      const { usable } = await measure(ctx.inventory, host, ctx.signal);
      return {
        freeDiskGbMin: ctx.inventory.thresholds.freeDiskGbMin,
        unit: 'GB (decimal, 10^9 bytes, as df -H)',
        fileSystems: [...byFileSystem(usable).values()].map((f) => ({
          paths: f.paths,
          freeGb: toGb(f.freeBytes),
          usedPercent: f.usedPercent,
        })),
      };
    },
    run: (ctx) =>
      explained(
        'measuring the free space after the cleanup',
        'check stack.dataPaths, stack.nodeExporterUrl and backups.directory in the inventory; the cleanup itself is done (see the steps above)',
        async () => {
          const reclaimedByStep = Object.fromEntries(RECLAIMING_STEPS.map((id) => [id, Number(ctx.outputOf(id).reclaimedBytes ?? 0)]));
          const { usable } = await measure(ctx.inventory, host, ctx.signal);
          const report = freeSpaceReport(ctx.outputOf('usage'), usable, reclaimedByStep, ctx.inventory.thresholds.freeDiskGbMin);
          const escalation = shortOfSpace(report, ctx.inventory);
          if (escalation) throw escalation;
          return { ...report };
        },
      ),
  });
