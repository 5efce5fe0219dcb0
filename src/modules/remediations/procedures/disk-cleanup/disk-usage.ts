/**
 * Disk usage (df) of the paths disk cleanup looks at. The measurement (`diskUsage`, `measure`,
 * `byFileSystem`) lives here alone so that it can be pointed at the ERP host's readings without
 * touching the steps; figures are bytes, shown to people in decimal GB (src/common/units.ts).
 */
import { stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { toGb, usedPercent } from '../../../../common/units';
import { Inventory } from '../../../../config/inventory.schema';

export interface DiskUsage {
  /** The path asked about. */
  path: string;
  /** The path statfs read: the path itself, or its nearest existing parent when it does not exist yet. */
  measuredAt: string;
  /** st_dev of measuredAt: paths with the same device share one file system. */
  device: number;
  sizeBytes: number;
  usedBytes: number;
  freeBytes: number;
  /** As df computes it (and the health module's metric:disk): used / (used + available to unprivileged users). */
  usedPercent: number;
}

/** A path whose usage could not be read, and why. */
export interface UnreadablePath {
  path: string;
  error: string;
}

async function nearestExisting(path: string): Promise<string> {
  for (let p = path; ; p = dirname(p)) {
    try {
      await stat(p);
      return p;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || p === dirname(p)) throw error;
    }
  }
}

/** df of one path (of its nearest existing parent when it does not exist yet). */
export async function diskUsage(path: string): Promise<DiskUsage> {
  const measuredAt = await nearestExisting(path);
  const [fs, info] = await Promise.all([statfs(measuredAt), stat(measuredAt)]);
  const used = (fs.blocks - fs.bfree) * fs.bsize;
  const free = fs.bavail * fs.bsize;
  return {
    path,
    measuredAt,
    device: Number(info.dev),
    sizeBytes: fs.blocks * fs.bsize,
    usedBytes: used,
    freeBytes: free,
    usedPercent: usedPercent(used, free),
  };
}

/** df of every path; fails only when none of them can be read. */
export async function measure(paths: string[]): Promise<{ paths: (DiskUsage | UnreadablePath)[]; usable: DiskUsage[] }> {
  const results = await Promise.all(
    paths.map((path) =>
      diskUsage(path).catch((error: NodeJS.ErrnoException): UnreadablePath => ({
        path,
        error: `cannot read its disk usage: ${error.code ?? error.message}`,
      })),
    ),
  );
  const usable = results.filter((r): r is DiskUsage => !('error' in r));
  if (!usable.length)
    throw new Error(
      `cannot read the disk usage of any of ${paths.join(', ')}: ${results.map((r) => ('error' in r ? `${r.path}: ${r.error}` : '')).join('; ')}`,
    );
  return { paths: results, usable };
}

/** One entry per file system (paths on the same device counted once). */
export function byFileSystem(usages: DiskUsage[]): Map<number, DiskUsage & { paths: string[] }> {
  const out = new Map<number, DiskUsage & { paths: string[] }>();
  for (const u of usages) {
    const seen = out.get(u.device);
    if (seen) seen.paths.push(u.path);
    else out.set(u.device, { ...u, paths: [u.path] });
  }
  return out;
}

/** The paths the runbook's `df` looks at: the inventory's data paths, the backup and the archive directories. */
export function cleanupPaths(inventory: Inventory): string[] {
  return [...new Set([...inventory.stack.dataPaths, inventory.backups.directory, inventory.cleanup.archiveDirectory])];
}

/** A path's usage as shown in a step's output: the bytes, and the sizes in decimal GB. */
export function describeUsage(u: DiskUsage | UnreadablePath): Record<string, unknown> {
  if ('error' in u) return { ...u };
  return { ...u, sizeGb: toGb(u.sizeBytes), usedGb: toGb(u.usedBytes), freeGb: toGb(u.freeBytes) };
}
