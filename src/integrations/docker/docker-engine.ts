/**
 * The Docker Engine (dockerode), pinned to API 1.41 (Debian's Docker 20.10): compose project
 * containers with their state and health, log tails (demultiplexed), one-shot stats, the
 * engine's own facts (docker info). Changing containers (stop, start, exec) is only called
 * by procedures' steps. The connection and error mapping live in docker-client.ts, the
 * reading of streams in docker-exec.ts and docker-frames.ts.
 */
import type Docker from 'dockerode';
import { ContainerStatsSample, ContainerSummary, DockerEngineInfo, DockerPort, ExecOptions, ExecProcess, ImageSummary } from '../contracts';
import { CallOptions, errorText } from '../integration-error';
import { DockerClient, DockerContainerInfo, DockerEngineOptions } from './docker-client';
import { execIn, statsSample, tailLogs, TailLogsOptions } from './docker-exec';
import { DockerContainerStats, num, statsBetween } from './docker-frames';

export { DOCKER_API_VERSION, dockerConnection } from './docker-client';
export type { DockerContainerInfo, DockerEngineOptions } from './docker-client';
export type { TailLogsOptions } from './docker-exec';
export { computeStats, demuxLogLines, ExecDemux, statsBetween } from './docker-frames';
export type { DockerContainerStats } from './docker-frames';

export class DockerEngine implements DockerPort {
  readonly system = 'docker';
  private readonly client: DockerClient;

  constructor(dockerHost: string, options: DockerEngineOptions = {}) {
    this.client = new DockerClient(dockerHost, options);
  }

  private get docker() {
    return this.client.docker;
  }

  private run<T>(what: string, options: CallOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.client.run(what, options, fn);
  }

  async ping(options: CallOptions): Promise<{ version: string; apiVersion: string }> {
    return this.run('version', options, async (signal) => {
      const v: any = await this.docker.version({ abortSignal: signal } as any);
      if (!v || typeof v.Version !== 'string') throw this.client.bad('version', 'answered without a Version');
      return { version: v.Version, apiVersion: String(v.ApiVersion ?? '') };
    });
  }

  async listProjectContainers(project: string, options: CallOptions): Promise<DockerContainerInfo[]> {
    const what = `listing the containers of compose project ${JSON.stringify(project)}`;
    return this.run(what, options, async (signal) => {
      const list = await this.docker.listContainers({
        all: true,
        filters: { label: [`com.docker.compose.project=${project}`] },
        abortSignal: signal,
      } as any);
      if (!Array.isArray(list)) throw this.client.bad(what, 'answered something that is not a list');
      const inspected = await Promise.all(
        list.map(async (summary): Promise<Docker.ContainerInspectInfo | undefined> => {
          try {
            return await this.client.inspectRaw(summary.Id, signal);
          } catch (error) {
            if ((error as any)?.statusCode === 404) return undefined; // removed between list and inspect
            throw error;
          }
        }),
      );
      return inspected
        .filter((c): c is Docker.ContainerInspectInfo => c !== undefined)
        .map((c) => this.client.toInfo(c))
        .sort((a, b) => a.name.localeCompare(b.name));
    });
  }

  async inspectContainer(container: string, options: CallOptions): Promise<DockerContainerInfo> {
    return this.run(`inspecting container ${container}`, options, async (signal) =>
      this.client.toInfo(await this.client.inspectRaw(container, signal)),
    );
  }

  async engineInfo(options: CallOptions): Promise<DockerEngineInfo> {
    return this.run('reading the engine information (docker info)', options, async (signal) => {
      const info: any = await this.docker.info({ abortSignal: signal } as any);
      if (!info || typeof info.DockerRootDir !== 'string')
        throw this.client.bad('reading the engine information (docker info)', 'answered without a DockerRootDir');
      return {
        name: String(info.Name ?? ''),
        id: String(info.ID ?? ''),
        serverVersion: String(info.ServerVersion ?? ''),
        dockerRootDir: info.DockerRootDir,
        cpus: num(info.NCPU),
        memoryBytes: num(info.MemTotal),
      };
    });
  }

  async tailLogs(container: string, tail: number, options: TailLogsOptions): Promise<string[]> {
    return tailLogs(this.client, container, tail, options);
  }

  /**
   * CPU and memory of a container, from two one-shot readings `sampleMs` apart (the engine
   * answers a second reading only at its next 1 s collection cycle).
   */
  async stats(container: string, options: CallOptions & { sampleMs?: number }): Promise<DockerContainerStats> {
    const first = await this.statsSample(container, options);
    await new Promise<void>((resolve) => setTimeout(resolve, options.sampleMs ?? 250));
    const second = await this.statsSample(container, options);
    return statsBetween(first, second);
  }

  async statsSample(container: string, options: CallOptions): Promise<ContainerStatsSample> {
    return statsSample(this.client, container, options);
  }

  async stopContainer(container: string, options: CallOptions & { graceSeconds?: number }): Promise<void> {
    await this.run(`stopping container ${container}`, options, async (signal) => {
      try {
        await (this.docker.getContainer(container) as any).stop({ t: options.graceSeconds ?? 10, abortSignal: signal });
      } catch (error) {
        if ((error as any)?.statusCode !== 304) throw error; // 304: already stopped
      }
    });
  }

  async startContainer(container: string, options: CallOptions): Promise<void> {
    await this.run(`starting container ${container}`, options, async (signal) => {
      try {
        await (this.docker.getContainer(container) as any).start({ abortSignal: signal });
      } catch (error) {
        if ((error as any)?.statusCode !== 304) throw error; // 304: already started
      }
    });
  }

  async restartContainer(container: string, options: CallOptions & { graceSeconds?: number }): Promise<void> {
    await this.run(`restarting container ${container}`, options, async (signal) => {
      await (this.docker.getContainer(container) as any).restart({ t: options.graceSeconds ?? 10, abortSignal: signal });
    });
  }

  async exec(container: string, options: ExecOptions): Promise<ExecProcess> {
    return execIn(this.client, container, options);
  }

  async pauseContainer(container: string, options: CallOptions): Promise<void> {
    await this.run(`pausing container ${container}`, options, async (signal) => {
      try {
        await (this.docker.getContainer(container) as any).pause({ abortSignal: signal });
      } catch (error) {
        // 409 "is already paused" is fine; 409 "is not running" is not.
        if (!((error as any)?.statusCode === 409 && /already paused/i.test(errorText(error)))) throw error;
      }
    });
  }

  async unpauseContainer(container: string, options: CallOptions): Promise<void> {
    await this.run(`unpausing container ${container}`, options, async (signal) => {
      try {
        await (this.docker.getContainer(container) as any).unpause({ abortSignal: signal });
      } catch (error) {
        if (!((error as any)?.statusCode === 409 && /not paused/i.test(errorText(error)))) throw error;
      }
    });
  }

  async containerEnv(container: string, options: CallOptions): Promise<Record<string, string>> {
    return this.run(`reading the configuration of container ${container}`, options, async (signal) => {
      const info = await this.client.inspectRaw(container, signal);
      const env: Record<string, string> = {};
      for (const entry of info.Config?.Env ?? []) {
        const at = entry.indexOf('=');
        if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
        else env[entry] = '';
      }
      return env;
    });
  }

  async recreateContainer(container: string, options: CallOptions & { graceSeconds?: number }): Promise<string> {
    return this.run(`recreating container ${container}`, options, async (signal) => {
      const info: any = await this.client.inspectRaw(container, signal);
      const config: any = { ...info.Config };
      const hostConfig: any = { ...info.HostConfig };
      // The network namespace is the host's (or another container's): the engine refuses a hostname then.
      if (/^(host|container:)/.test(String(hostConfig.NetworkMode ?? ''))) {
        delete config.Hostname;
        delete config.Domainname;
        delete config.MacAddress;
        delete config.ExposedPorts;
      }
      const networks = info.NetworkSettings?.Networks ?? {};
      const endpoints: Record<string, unknown> = {};
      for (const [name, endpoint] of Object.entries<any>(networks)) {
        if (name === 'host' || name === 'none' || name === 'bridge') continue;
        endpoints[name] = { Aliases: endpoint?.Aliases ?? undefined };
      }
      const c: any = this.docker.getContainer(container);
      try {
        await c.stop({ t: options.graceSeconds ?? 10, abortSignal: signal });
      } catch (error) {
        if ((error as any)?.statusCode !== 304) throw error; // 304: already stopped
      }
      await c.remove({ force: true, abortSignal: signal });
      const created: any = await this.docker.createContainer({
        ...config,
        name: String(info.Name ?? container).replace(/^\//, ''),
        HostConfig: hostConfig,
        ...(Object.keys(endpoints).length ? { NetworkingConfig: { EndpointsConfig: endpoints } } : {}),
        abortSignal: signal,
      } as any);
      await created.start({ abortSignal: signal });
      return String(created.id);
    });
  }

  async listContainers(
    query: { all?: boolean; filters?: Record<string, string[]>; size?: boolean },
    options: CallOptions,
  ): Promise<ContainerSummary[]> {
    const what = `listing containers${query.filters ? ` (filters ${JSON.stringify(query.filters)})` : ''}`;
    return this.run(what, options, async (signal) => {
      const list: any = await this.docker.listContainers({
        all: query.all === true,
        size: query.size === true,
        ...(query.filters ? { filters: query.filters } : {}),
        abortSignal: signal,
      } as any);
      if (!Array.isArray(list)) throw this.client.bad(what, 'answered something that is not a list');
      return list.map((c: any): ContainerSummary => {
        const summary: ContainerSummary = {
          id: String(c.Id ?? ''),
          name: String((Array.isArray(c.Names) ? c.Names[0] : '') ?? '').replace(/^\//, ''),
          image: String(c.Image ?? ''),
          imageId: String(c.ImageID ?? ''),
          state: String(c.State ?? 'unknown'),
          status: String(c.Status ?? ''),
          createdAt: new Date(num(c.Created) * 1000).toISOString(),
          labels: { ...((c.Labels as Record<string, string> | null) ?? {}) },
        };
        if (query.size === true) summary.sizeRwBytes = num(c.SizeRw);
        return summary;
      });
    });
  }

  async removeContainer(container: string, options: CallOptions): Promise<void> {
    await this.run(`removing container ${container}`, options, async (signal) => {
      await (this.docker.getContainer(container) as any).remove({ force: false, v: false, abortSignal: signal });
    });
  }

  async listImages(query: { dangling?: boolean }, options: CallOptions): Promise<ImageSummary[]> {
    const what = query.dangling ? 'listing dangling images' : 'listing images';
    return this.run(what, options, async (signal) => {
      const list: any = await this.docker.listImages({
        ...(query.dangling ? { filters: { dangling: ['true'] } } : {}),
        abortSignal: signal,
      } as any);
      if (!Array.isArray(list)) throw this.client.bad(what, 'answered something that is not a list');
      return list.map((i: any): ImageSummary => ({
        id: String(i.Id ?? ''),
        repoTags: (Array.isArray(i.RepoTags) ? i.RepoTags : []).map(String).filter((t: string) => t !== '<none>:<none>'),
        createdAt: new Date(num(i.Created) * 1000).toISOString(),
        sizeBytes: num(i.Size),
      }));
    });
  }

  async removeImage(image: string, options: CallOptions): Promise<string[]> {
    return this.run(`removing image ${image}`, options, async (signal) => {
      const answer: any = await (this.docker.getImage(image) as any).remove({ force: false, noprune: false, abortSignal: signal });
      return (Array.isArray(answer) ? answer : []).filter((a: any) => typeof a?.Deleted === 'string').map((a: any) => String(a.Deleted));
    });
  }
}
