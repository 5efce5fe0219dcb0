/**
 * metric:disk: disk usage of the inventory's data paths, the backup directory and the Docker
 * data root, read on the ERP host (its node exporter), never on the control plane's machine.
 * One result per path; sizes for people in decimal GB (src/common/units.ts).
 */
import { formatGb } from '../../../common/units';
import { Inventory } from '../../../config/inventory.schema';
import { DockerPort, HostResourcesPort, PathDiskUsage } from '../../../integrations/contracts';
import { bandVerdict, CheckContext, CheckDefinition, CheckResult, describeFailure } from '../check';

type Result = Omit<CheckResult, 'durationMs'>;

const CLEANUP = 'see Common Issues: Issue 3 (PostgreSQL Out of Disk Space): procedure disk.cleanup';

/** The paths metric:disk judges: the data paths and the backup directory (the Docker data root is added when the engine names it). */
export function diskCheckPaths(inventory: Inventory): string[] {
  return [...new Set([...inventory.stack.dataPaths, inventory.backups.directory])];
}

function judged(usage: PathDiskUsage, band: { warn: number; fail: number }, expected: string, source: string): Result {
  const verdict = bandVerdict(usage.usedPercent, band);
  return {
    check: `metric:disk:${usage.path}`,
    title: `disk usage of ${usage.path}`,
    verdict,
    observed: `${usage.usedPercent} % used, ${formatGb(usage.freeBytes, 1)} free (${usage.mountpoint} on the ERP host)`,
    expected,
    details: { ...usage, source },
    ...(verdict === 'pass' ? {} : { nextStep: CLEANUP }),
  };
}

function unreadable(path: string, observed: string, expected: string): Result {
  return { check: `metric:disk:${path}`, title: `disk usage of ${path}`, verdict: 'unknown', observed, expected };
}

/** The Docker data root's path on the ERP host, or nothing when the engine does not answer (the service checks report that). */
async function dockerRoot(docker: DockerPort, ctx: CheckContext): Promise<string[]> {
  try {
    return [(await docker.engineInfo({ timeoutMs: Math.min(1000, ctx.timeoutMs / 2), signal: ctx.signal })).dockerRootDir];
  } catch {
    return [];
  }
}

export function diskCheck(inventory: Inventory, host: HostResourcesPort, docker: DockerPort): CheckDefinition {
  const band = inventory.thresholds.diskPercent;
  const expected = `< ${band.fail} % used (warn at ${band.warn} %)`;
  return {
    id: 'metric:disk',
    title: 'disk usage of the data, backup and Docker data root paths (ERP host)',
    timeoutMs: 2000,
    async run(ctx) {
      const paths = [...new Set([...diskCheckPaths(inventory), ...(await dockerRoot(docker, ctx))])];
      try {
        const usages = await host.diskUsage(paths, ctx);
        const source = `node exporter ${inventory.stack.nodeExporterUrl}`;
        return usages.map((u) =>
          'error' in u ? unreadable(u.path, `cannot read: ${u.error}`, expected) : judged(u, band, expected, source),
        );
      } catch (error) {
        const why = `cannot read from the ERP host's node exporter: ${describeFailure(error).observed}`;
        return paths.map((path) => unreadable(path, why, expected));
      }
    },
  };
}
