/**
 * The Docker Engine (dockerode), pinned to API 1.41 (Debian's Docker 20.10): compose project
 * containers with their state and health, log tails (demultiplexed), one-shot stats.
 * Changing containers (stop, start, exec) is only called by procedures' steps.
 */
import { Readable, Transform, TransformCallback, Writable } from 'node:stream';
import Docker from 'dockerode';
import {
  ContainerHealth,
  ContainerInfo,
  ContainerStats,
  ContainerStatsSample,
  ContainerSummary,
  DockerPort,
  ExecOptions,
  ExecProcess,
  ImageSummary,
} from '../contracts';
import { CallOptions, describeCode, errorCode, errorText, IntegrationError, socketFailure } from '../integration-error';
import { withDeadline } from '../http/deadline';

export const DOCKER_API_VERSION = 'v1.41';
const MAX_TAIL = 10000;
const MAX_LOG_BYTES = 16 * 1024 * 1024;

export interface DockerContainerInfo extends ContainerInfo {
  image: string;
  /** State.Restarting (crash loop between restarts). */
  restarting: boolean;
  /** Output of the last healthcheck run, when the container has a healthcheck. */
  lastHealthOutput?: string;
}

export interface DockerContainerStats extends ContainerStats {
  /** As `docker stats` shows it: 100 per fully used core. */
  cpuPercentOfOneCore: number;
  onlineCpus: number;
}

export interface DockerEngineOptions {
  /** Docker Engine API version the client speaks (default v1.41). */
  apiVersion?: string;
}

export interface TailLogsOptions extends CallOptions {
  /** Prefix each line with Docker's RFC 3339 timestamp. */
  timestamps?: boolean;
}

/** Connection options of dockerode from the inventory's stack.dockerHost. */
export function dockerConnection(dockerHost: string): Docker.DockerOptions {
  const url = new URL(dockerHost);
  if (url.protocol === 'unix:') return { socketPath: decodeURIComponent(url.pathname) };
  const port = url.port ? Number(url.port) : 2375;
  return { host: url.hostname, port, protocol: url.protocol === 'https:' ? 'https' : 'http' };
}

/** Splits a Docker log payload into lines: 8-byte frame headers (stream, 0, 0, 0, size) unless TTY. */
export function demuxLogLines(raw: Buffer, tty: boolean): string[] {
  const lines: string[] = [];
  const pending: Record<number, string> = {};
  const push = (stream: number, text: string) => {
    const parts = ((pending[stream] ?? '') + text).split('\n');
    pending[stream] = parts.pop() ?? '';
    for (const line of parts) lines.push(line.replace(/\r$/, ''));
  };
  let multiplexed = !tty;
  if (multiplexed && raw.length >= 8 && !(raw[0] <= 2 && raw[1] === 0 && raw[2] === 0 && raw[3] === 0)) multiplexed = false;
  if (!multiplexed) {
    push(1, raw.toString('utf8'));
  } else {
    let offset = 0;
    while (offset + 8 <= raw.length) {
      const stream = raw[offset];
      const size = raw.readUInt32BE(offset + 4);
      const end = Math.min(raw.length, offset + 8 + size);
      push(stream, raw.subarray(offset + 8, end).toString('utf8'));
      offset = end;
    }
  }
  for (const stream of Object.keys(pending)) {
    const rest = pending[Number(stream)];
    if (rest) lines.push(rest.replace(/\r$/, ''));
  }
  return lines;
}

function healthOf(status: unknown): ContainerHealth {
  return status === 'healthy' || status === 'unhealthy' || status === 'starting' ? status : 'none';
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** CPU and memory as `docker stats` computes them from one stats sample. */
export function computeStats(s: any): DockerContainerStats {
  const cpu = s?.cpu_stats ?? {};
  const pre = s?.precpu_stats ?? {};
  const cpuDelta = num(cpu.cpu_usage?.total_usage) - num(pre.cpu_usage?.total_usage);
  const systemDelta = num(cpu.system_cpu_usage) - num(pre.system_cpu_usage);
  const onlineCpus = num(cpu.online_cpus) || (Array.isArray(cpu.cpu_usage?.percpu_usage) ? cpu.cpu_usage.percpu_usage.length : 0) || 1;
  const share = cpuDelta > 0 && systemDelta > 0 && num(pre.system_cpu_usage) > 0 ? cpuDelta / systemDelta : 0;
  const mem = s?.memory_stats ?? {};
  const usage = num(mem.usage);
  const stats = mem.stats ?? {};
  // docker CLI: cgroup v1 subtracts total_inactive_file, cgroup v2 inactive_file.
  const inactive = stats.total_inactive_file !== undefined ? num(stats.total_inactive_file) : num(stats.inactive_file);
  const memoryBytes = inactive > 0 && inactive < usage ? usage - inactive : usage;
  return {
    cpuPercent: Math.round(share * 100 * 100) / 100,
    cpuPercentOfOneCore: Math.round(share * onlineCpus * 100 * 100) / 100,
    onlineCpus,
    memoryBytes,
    memoryLimitBytes: num(mem.limit),
  };
}

/** CPU use between two readings (share of the whole machine, like cpuPercent), memory of the later one. */
export function statsBetween(first: ContainerStatsSample, second: ContainerStatsSample): DockerContainerStats {
  const cpuDelta = second.cpuTotal - first.cpuTotal;
  const systemDelta = second.systemTotal - first.systemTotal;
  const share = cpuDelta > 0 && systemDelta > 0 ? cpuDelta / systemDelta : 0;
  return {
    cpuPercent: Math.round(share * 100 * 100) / 100,
    cpuPercentOfOneCore: Math.round(share * second.onlineCpus * 100 * 100) / 100,
    onlineCpus: second.onlineCpus,
    memoryBytes: second.memoryBytes,
    memoryLimitBytes: second.memoryLimitBytes,
  };
}

const MAX_STDERR = 64 * 1024;

/**
 * Demultiplexes an exec's attached stream (8-byte frame headers: stream, 0, 0, 0, size)
 * with backpressure: stdout frames flow on, stderr is kept (bounded) for the error message.
 */
export class ExecDemux extends Transform {
  private header = Buffer.alloc(0);
  private remaining = 0;
  private stream = 1;
  stderr = '';
  /** Called with each complete stderr text chunk (e.g. to read a pid line). */
  onStderr?: (text: string) => void;

  constructor() {
    super({ highWaterMark: 1 });
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, callback: TransformCallback): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining === 0) {
        const need = 8 - this.header.length;
        this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + need)]);
        offset += Math.min(need, chunk.length - offset);
        if (this.header.length < 8) break;
        this.stream = this.header[0];
        this.remaining = this.header.readUInt32BE(4);
        this.header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - offset);
      const payload = chunk.subarray(offset, offset + take);
      offset += take;
      this.remaining -= take;
      if (this.stream === 2) {
        const text = payload.toString('utf8');
        if (this.stderr.length < MAX_STDERR) this.stderr += text.slice(0, MAX_STDERR - this.stderr.length);
        this.onStderr?.(text);
      } else if (payload.length) {
        this.push(payload);
      }
    }
    callback();
  }
}

export class DockerEngine implements DockerPort {
  readonly system = 'docker';
  private readonly docker: Docker;
  private readonly where: string;

  constructor(dockerHost: string, options: DockerEngineOptions = {}) {
    let connection: Docker.DockerOptions;
    try {
      connection = dockerConnection(dockerHost);
    } catch {
      throw new IntegrationError(
        this.system,
        'unreachable',
        `docker: ${JSON.stringify(dockerHost)} is not a Docker host URL, for example unix:///var/run/docker.sock`,
      );
    }
    this.docker = new Docker({ ...connection, version: options.apiVersion ?? DOCKER_API_VERSION });
    this.where = connection.socketPath ? connection.socketPath : `${connection.host}:${connection.port}`;
  }

  async ping(options: CallOptions): Promise<{ version: string; apiVersion: string }> {
    return this.run('version', options, async (signal) => {
      const v: any = await this.docker.version({ abortSignal: signal } as any);
      if (!v || typeof v.Version !== 'string') throw this.bad('version', 'answered without a Version');
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
      if (!Array.isArray(list)) throw this.bad(what, 'answered something that is not a list');
      const inspected = await Promise.all(
        list.map(async (summary): Promise<Docker.ContainerInspectInfo | undefined> => {
          try {
            return await this.inspectRaw(summary.Id, signal);
          } catch (error) {
            if ((error as any)?.statusCode === 404) return undefined; // removed between list and inspect
            throw error;
          }
        }),
      );
      return inspected
        .filter((c): c is Docker.ContainerInspectInfo => c !== undefined)
        .map((c) => this.toInfo(c))
        .sort((a, b) => a.name.localeCompare(b.name));
    });
  }

  async inspectContainer(container: string, options: CallOptions): Promise<DockerContainerInfo> {
    return this.run(`inspecting container ${container}`, options, async (signal) => this.toInfo(await this.inspectRaw(container, signal)));
  }

  async tailLogs(container: string, tail: number, options: TailLogsOptions): Promise<string[]> {
    const lines = Math.max(0, Math.min(MAX_TAIL, Math.floor(Number.isFinite(tail) ? tail : 0)));
    return this.run(`reading the last ${lines} log lines of ${container}`, options, async (signal) => {
      const info = await this.inspectRaw(container, signal);
      const tty = info?.Config?.Tty === true;
      const raw = await this.dialRaw(
        `/containers/${encodeURIComponent(container)}/logs?`,
        { stdout: true, stderr: true, tail: lines, timestamps: options.timestamps === true },
        signal,
      );
      const out = demuxLogLines(raw, tty);
      return out.length > lines ? out.slice(out.length - lines) : out;
    });
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
    return this.run(`reading the stats of ${container}`, options, async (signal) => {
      // Through dialRaw: dockerode's stats() puts the abort signal into the query string.
      const raw = await this.dialRaw(`/containers/${encodeURIComponent(container)}/stats?`, { stream: false, 'one-shot': true }, signal);
      let s: any;
      try {
        s = JSON.parse(raw.toString('utf8'));
      } catch {
        throw this.bad(`reading the stats of ${container}`, 'answered something that is not JSON');
      }
      if (!s || typeof s !== 'object') throw this.bad(`reading the stats of ${container}`, 'answered something that is not JSON');
      const computed = computeStats(s);
      return {
        at: Date.now(),
        cpuTotal: num(s.cpu_stats?.cpu_usage?.total_usage),
        systemTotal: num(s.cpu_stats?.system_cpu_usage),
        onlineCpus: computed.onlineCpus,
        memoryBytes: computed.memoryBytes,
        memoryLimitBytes: computed.memoryLimitBytes,
      };
    });
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

  /**
   * Runs a command in a container (POST /containers/{id}/exec, /exec/{id}/start hijacked,
   * GET /exec/{id}/json for the exit code). stdout streams with backpressure; stdin, when
   * asked for, is the connection's write side (ending it closes the command's stdin).
   * Destroying the process (or the abort signal) drops the connection.
   */
  async exec(container: string, options: ExecOptions): Promise<ExecProcess> {
    const what = `running ${options.cmd[0]} in container ${container}`;
    const { exec, socket } = await this.run(what, { timeoutMs: options.startTimeoutMs ?? 10_000 }, async (signal) => {
      const exec = await this.docker.getContainer(container).exec({
        Cmd: options.cmd,
        Env: options.env,
        User: options.user,
        AttachStdin: Boolean(options.stdin),
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        abortSignal: signal,
      } as any);
      const socket: any = await exec.start({ hijack: true, stdin: Boolean(options.stdin), abortSignal: signal } as any);
      return { exec, socket };
    });
    const demux = new ExecDemux();
    socket.on('error', (error: Error) => demux.destroy(error));
    socket.pipe(demux);
    const destroy = () => {
      socket.destroy();
      demux.end();
    };
    options.signal?.addEventListener('abort', destroy, { once: true });
    const ended = new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        resolve();
      };
      socket.on('close', finish);
      socket.on('end', finish);
      demux.on('close', finish);
    });
    const exit = ended.then(async () => {
      options.signal?.removeEventListener('abort', destroy);
      // The exec's exit code: the engine may need a moment after the stream closed.
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          const info: any = await exec.inspect();
          if (!info.Running) return typeof info.ExitCode === 'number' ? info.ExitCode : null;
        } catch {
          return null; // the container (and its exec) is gone
        }
        await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
      }
      return null;
    });
    exit.catch(() => undefined);
    return {
      stdout: demux as Readable,
      stdin: options.stdin ? (socket as Writable) : undefined,
      stderr: () => demux.stderr,
      onStderr: (listener) => {
        demux.onStderr = listener;
      },
      exit,
      destroy,
    };
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
      const info = await this.inspectRaw(container, signal);
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
      const info: any = await this.inspectRaw(container, signal);
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
      if (!Array.isArray(list)) throw this.bad(what, 'answered something that is not a list');
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
      if (!Array.isArray(list)) throw this.bad(what, 'answered something that is not a list');
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

  private inspectRaw(id: string, signal: AbortSignal): Promise<Docker.ContainerInspectInfo> {
    const container: any = this.docker.getContainer(id);
    return container.inspect({ abortSignal: signal });
  }

  private toInfo(c: Docker.ContainerInspectInfo): DockerContainerInfo {
    const labels: Record<string, string> = { ...((c.Config?.Labels as Record<string, string> | null) ?? {}) };
    const state: any = c.State ?? {};
    const health = state.Health;
    const log = Array.isArray(health?.Log) ? health.Log : [];
    const info: DockerContainerInfo = {
      id: c.Id,
      name: String(c.Name ?? '').replace(/^\//, ''),
      service: labels['com.docker.compose.service'],
      oneOff: labels['com.docker.compose.oneoff'] === 'True',
      state: String(state.Status ?? 'unknown'),
      health: health ? healthOf(health.Status) : 'none',
      failingStreak: num(health?.FailingStreak),
      restartCount: num(c.RestartCount),
      exitCode: num(state.ExitCode),
      startedAt: String(state.StartedAt ?? ''),
      labels,
      image: String(c.Config?.Image ?? ''),
      restarting: state.Restarting === true,
    };
    if (log.length)
      info.lastHealthOutput = String(log[log.length - 1]?.Output ?? '')
        .trim()
        .slice(0, 500);
    return info;
  }

  /** A GET whose body is read raw (not parsed as JSON), bounded. */
  private dialRaw(path: string, query: Record<string, unknown>, signal: AbortSignal): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.docker.modem.dial(
        {
          path,
          method: 'GET',
          options: query,
          isStream: true,
          statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
          abortSignal: signal,
        } as any,
        (error: any, stream: any) => {
          if (error) return reject(error);
          const chunks: Buffer[] = [];
          let size = 0;
          const onAbort = () => stream.destroy(new Error('aborted'));
          signal.addEventListener('abort', onAbort, { once: true });
          const done = (fn: () => void) => {
            signal.removeEventListener('abort', onAbort);
            fn();
          };
          stream.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_LOG_BYTES) {
              stream.destroy();
              done(() => reject(Object.assign(new Error(`more than ${MAX_LOG_BYTES} bytes of logs`), { tooLarge: true })));
              return;
            }
            chunks.push(chunk);
          });
          stream.on('end', () => done(() => resolve(Buffer.concat(chunks))));
          stream.on('error', (e: Error) => done(() => reject(e)));
        },
      );
    });
  }

  private bad(what: string, detail: string): IntegrationError {
    return new IntegrationError(this.system, 'bad_response', `docker: ${what} failed: the engine ${detail}`);
  }

  private run<T>(what: string, options: CallOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(
      this.system,
      `${what} (engine at ${this.where})`,
      options,
      (deadline) => fn(deadline.signal),
      (error) => this.mapError(what, error),
    );
  }

  private mapError(what: string, error: unknown): IntegrationError {
    const e: any = error;
    const status: number | undefined = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
    if (status !== undefined) {
      const engineMessage = typeof e?.json?.message === 'string' ? e.json.message : errorText(error).replace(/^\(HTTP code \d+\)\s*/, '');
      const text = `docker: ${what} failed: HTTP ${status} ${engineMessage}`.trim();
      if (status === 401 || status === 403) return new IntegrationError(this.system, 'refused', text, status);
      if (status === 409) return new IntegrationError(this.system, 'refused', text, status);
      return new IntegrationError(this.system, 'bad_response', text, status);
    }
    if (e?.tooLarge) return new IntegrationError(this.system, 'bad_response', `docker: ${what} failed: ${e.message}`);
    const code = errorCode(error);
    const failure = socketFailure(code);
    if (failure)
      return new IntegrationError(
        this.system,
        failure,
        `docker: ${what} failed: cannot talk to the engine at ${this.where}: ${describeCode(code!)}`,
      );
    return new IntegrationError(this.system, 'bad_response', `docker: ${what} failed: ${errorText(error)}`);
  }
}
