/**
 * Disk usage (df) of the paths disk cleanup looks at, each where it lives: the ERP's data paths
 * (stack.dataPaths) on the ERP host, read from its node exporter through the HOST_RESOURCES
 * adapter (never the control plane's own disk, which is another machine when the Docker host is
 * remote); the backup and archive directories, which the control plane itself writes (backups
 * stream to it, archives are written by it), with statfs on the control plane's machine.
 * Figures are bytes, shown to people in decimal GB (src/common/units.ts).
 */
import { stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { toGb, usedPercent } from '../../../../common/units';
import { Inventory } from '../../../../config/inventory.schema';
import { HostResourcesPort } from '../../../../integrations/contracts';

export interface DiskUsage {
  /** The path asked about. */
  path: string;
  /** Where it was read: the ERP host (its node exporter) or the control plane's own machine (statfs). */
  host: 'erp' | 'control-plane';
  /** The file system read: the ERP host's mountpoint, or the nearest existing path statfs read. */
  measuredAt: string;
  /** The file system's key: paths with the same key share one file system (counted once). */
  device: string;
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
    host: 'control-plane',
    measuredAt,
    device: `control-plane:${info.dev}`,
    sizeBytes: fs.blocks * fs.bsize,
    usedBytes: used,
    freeBytes: free,
    usedPercent: usedPercent(used, free),
  };
}

/** The ERP host's paths, read through its node exporter (one reading for all of them). */
async function erpHostUsage(host: HostResourcesPort, paths: string[], signal?: AbortSignal): Promise<(DiskUsage | UnreadablePath)[]> {
  if (!paths.length) return [];
  try {
    const readings = await host.diskUsage(paths, { timeoutMs: 10_000, signal });
    return readings.map((r) =>
      'error' in r
        ? { path: r.path, error: `cannot read its disk usage on the ERP host: ${r.error}` }
        : { ...r, host: 'erp', measuredAt: r.mountpoint, device: `erp:${r.device}@${r.mountpoint}` },
    );
  } catch (error) {
    return paths.map((path) => ({ path, error: `cannot read the ERP host's disk usage: ${(error as Error).message}` }));
  }
}

/** df of every path, each where it lives; fails only when none of them can be read. */
export async function measure(
  inventory: Inventory,
  host: HostResourcesPort,
  signal?: AbortSignal,
): Promise<{ paths: (DiskUsage | UnreadablePath)[]; usable: DiskUsage[] }> {
  const { erp, own } = cleanupPathsByHost(inventory);
  const local = Promise.all(
    own.map((path) =>
      diskUsage(path).catch((error: NodeJS.ErrnoException): UnreadablePath => ({
        path,
        error: `cannot read its disk usage: ${error.code ?? error.message}`,
      })),
    ),
  );
  const [onErp, onOwn] = await Promise.all([erpHostUsage(host, erp, signal), local]);
  const results = [...onErp, ...onOwn];
  const usable = results.filter((r): r is DiskUsage => !('error' in r));
  if (!usable.length)
    throw new Error(
      `cannot read the disk usage of any of ${results.map((r) => r.path).join(', ')}: ${results.map((r) => ('error' in r ? `${r.path}: ${r.error}` : '')).join('; ')}`,
    );
  return { paths: results, usable };
}

/** One entry per file system (paths on the same device counted once). */
export function byFileSystem(usages: DiskUsage[]): Map<string, DiskUsage & { paths: string[] }> {
  const out = new Map<string, DiskUsage & { paths: string[] }>();
  for (const u of usages) {
    const seen = out.get(u.device);
    if (seen) seen.paths.push(u.path);
    else out.set(u.device, { ...u, paths: [u.path] });
  }
  return out;
}

/**
 * The paths the runbook's `df` looks at, by where they live: the inventory's data paths on the
 * ERP host; the backup and archive directories (written by the control plane) on its own machine.
 */
export function cleanupPathsByHost(inventory: Inventory): { erp: string[]; own: string[] } {
  const erp = [...new Set(inventory.stack.dataPaths)];
  const own = [...new Set([inventory.backups.directory, inventory.cleanup.archiveDirectory])].filter((p) => !erp.includes(p));
  return { erp, own };
}

/** A path's usage as shown in a step's output: the bytes, and the sizes in decimal GB. */
export function describeUsage(u: DiskUsage | UnreadablePath): Record<string, unknown> {
  if ('error' in u) return { ...u };
  return { ...u, sizeGb: toGb(u.sizeBytes), usedGb: toGb(u.usedBytes), freeGb: toGb(u.freeBytes) };
}
