/**
 * The ERP host's resources (disk, CPU count, memory, load) from the node exporter the ERP
 * runs on it, read fresh from its /metrics page (the exporter computes them at each request,
 * a few milliseconds). Not the control plane's own machine: with a remote DOCKER_HOST the
 * two differ, and only the ERP host's figures mean anything to the runbook. The Docker data
 * root's path comes from the Docker engine (docker info), its disk from the node exporter.
 */
import { DockerPort, HostReading, HostResourcesPort, PathDiskUsage } from '../contracts';
import { CallOptions, IntegrationError } from '../integration-error';
import { httpRequest, joinUrl, prepareUrl } from '../http/http-client';
import { hostReadingOf, parseExposition, pathDiskUsage } from './node-exposition';

/** A node exporter's page is a few hundred KB at most; beyond this something else answers. */
const MAX_BYTES = 8 * 1024 * 1024;
/**
 * How long the Docker data root's path is reused: it changes only when the engine restarts
 * with another data-root, and asking the engine (docker info) costs tens of milliseconds on
 * every checklist. The disk figures themselves are always read fresh.
 */
const DATA_ROOT_PATH_TTL_MS = 10 * 60_000;

export class NodeExporterHost implements HostResourcesPort {
  private readonly shownBase: string;
  private dataRootPath: { path: string; until: number } | null = null;

  constructor(
    private readonly baseUrl: string,
    private readonly docker: DockerPort,
    private readonly system = 'node-exporter',
  ) {
    this.shownBase = prepareUrl(system, baseUrl).shown.replace(/\/+$/, '');
  }

  async read(options: CallOptions): Promise<HostReading> {
    const url = joinUrl(this.baseUrl, '/metrics');
    const what = `GET ${this.shownBase}/metrics`;
    const answer = await httpRequest(this.system, url, { maxBytes: MAX_BYTES, headers: { accept: 'text/plain' } }, options, what);
    const fail = (detail: string) => new IntegrationError(this.system, 'bad_response', `${this.system}: ${what} ${detail}`, answer.status);
    if (answer.status !== 200) throw fail(`answered HTTP ${answer.status}`);
    if (answer.truncated) throw fail(`answered more than ${MAX_BYTES} bytes: is this a node exporter?`);
    try {
      return hostReadingOf(parseExposition(answer.text), `${this.shownBase}/metrics`);
    } catch (error) {
      throw fail(`${(error as Error).message}: is this the ERP host's node exporter?`);
    }
  }

  async diskUsage(paths: string[], options: CallOptions): Promise<(PathDiskUsage | { path: string; error: string })[]> {
    const reading = await this.read(options);
    return paths.map(
      (path) =>
        pathDiskUsage(path, reading.filesystems) ?? {
          path,
          error: `no file system of the ERP host covers ${path} (node exporter ${reading.source})`,
        },
    );
  }

  async dockerDataRoot(options: CallOptions): Promise<PathDiskUsage> {
    const [rootDir, reading] = await Promise.all([this.dockerRootDir(options), this.read(options)]);
    const usage = pathDiskUsage(rootDir, reading.filesystems);
    if (!usage)
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: no file system of the ERP host covers the Docker data root ${rootDir} (node exporter ${reading.source})`,
      );
    return usage;
  }

  /** The engine's data root (docker info's DockerRootDir), asked again after DATA_ROOT_PATH_TTL_MS. */
  private async dockerRootDir(options: CallOptions): Promise<string> {
    if (this.dataRootPath && this.dataRootPath.until > Date.now()) return this.dataRootPath.path;
    const info = await this.docker.engineInfo(options);
    this.dataRootPath = { path: info.dockerRootDir, until: Date.now() + DATA_ROOT_PATH_TTL_MS };
    return info.dockerRootDir;
  }
}
