/**
 * The connection to one Docker engine (dockerode) and what every call to it shares: the
 * deadline, the mapping of the engine's failures to IntegrationErrors, raw bounded reads and
 * the inspection of a container. DockerEngine and the exec/log functions use it.
 */
import Docker from 'dockerode';
import { ContainerInfo } from '../contracts';
import { CallOptions, describeCode, errorCode, errorText, IntegrationError, socketFailure } from '../integration-error';
import { withDeadline } from '../http/deadline';
import { healthOf, num } from './docker-frames';

export const DOCKER_API_VERSION = 'v1.41';
const MAX_LOG_BYTES = 16 * 1024 * 1024;

export interface DockerContainerInfo extends ContainerInfo {
  image: string;
  /** State.Restarting (crash loop between restarts). */
  restarting: boolean;
  /** Output of the last healthcheck run, when the container has a healthcheck. */
  lastHealthOutput?: string;
}

export interface DockerEngineOptions {
  /** Docker Engine API version the client speaks (default v1.41). */
  apiVersion?: string;
}

/** Connection options of dockerode from the inventory's stack.dockerHost. */
export function dockerConnection(dockerHost: string): Docker.DockerOptions {
  const url = new URL(dockerHost);
  if (url.protocol === 'unix:') return { socketPath: decodeURIComponent(url.pathname) };
  const port = url.port ? Number(url.port) : 2375;
  return { host: url.hostname, port, protocol: url.protocol === 'https:' ? 'https' : 'http' };
}

export class DockerClient {
  readonly system = 'docker';
  readonly docker: Docker;
  /** The engine's socket or host:port, for messages. */
  readonly where: string;

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

  /** GET /containers/{id}/json as the engine answers it. */
  inspectRaw(id: string, signal: AbortSignal): Promise<Docker.ContainerInspectInfo> {
    const container: any = this.docker.getContainer(id);
    return container.inspect({ abortSignal: signal });
  }

  /** The engine's inspection as the adapters' ContainerInfo (with image, restarting and the last healthcheck output). */
  toInfo(c: Docker.ContainerInspectInfo): DockerContainerInfo {
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
  dialRaw(path: string, query: Record<string, unknown>, signal: AbortSignal): Promise<Buffer> {
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

  /** The engine answered something the adapter cannot read. */
  bad(what: string, detail: string): IntegrationError {
    return new IntegrationError(this.system, 'bad_response', `docker: ${what} failed: the engine ${detail}`);
  }

  /** One call under the caller's deadline; every failure leaves as an IntegrationError naming `what` and the engine. */
  run<T>(what: string, options: CallOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(
      this.system,
      `${what} (engine at ${this.where})`,
      options,
      (deadline) => fn(deadline.signal),
      (error) => this.mapError(what, error),
    );
  }

  /** The engine's HTTP status or the socket's error code as one of the IntegrationError failures. */
  mapError(what: string, error: unknown): IntegrationError {
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
