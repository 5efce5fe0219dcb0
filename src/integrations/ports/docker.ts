/** The port of docker/ (dockerode). */
import { CallOptions } from '../integration-error';

export type ContainerHealth = 'healthy' | 'unhealthy' | 'starting' | 'none';

export interface ContainerInfo {
  id: string;
  /** Container name without the leading slash, e.g. erp-postgres. */
  name: string;
  /** com.docker.compose.service label (undefined when missing). */
  service?: string;
  /** com.docker.compose.oneoff === "True" (compose run containers). */
  oneOff: boolean;
  /** State.Status: created, restarting, running, removing, paused, exited, dead. */
  state: string;
  /** State.Health.Status, or 'none' when the container has no healthcheck. */
  health: ContainerHealth;
  failingStreak: number;
  restartCount: number;
  exitCode: number;
  startedAt: string;
  labels: Record<string, string>;
}

export interface ContainerStats {
  /** CPU use in percent of the whole machine (0..100 * cores normalised to 0..100). */
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
}

/** One cumulative reading of a container's counters (no waiting): two of them give CPU use. */
export interface ContainerStatsSample {
  at: number;
  cpuTotal: number;
  systemTotal: number;
  onlineCpus: number;
  memoryBytes: number;
  memoryLimitBytes: number;
}

export interface ExecOptions {
  cmd: string[];
  env?: string[];
  user?: string;
  /** Attach stdin (the process's stdin ends when the writable side is ended). */
  stdin?: boolean;
  startTimeoutMs?: number;
  /** Aborting drops the connection (the command loses its stdin/stdout). */
  signal?: AbortSignal;
}

/** A command running in a container (docker exec). */
export interface ExecProcess {
  stdout: import('node:stream').Readable;
  stdin?: import('node:stream').Writable;
  /** What the command wrote to stderr (bounded). */
  stderr(): string;
  onStderr(listener: (text: string) => void): void;
  /** The exit code once the command ended (null when the engine cannot tell: container gone). */
  exit: Promise<number | null>;
  destroy(): void;
}

/** One container as the engine lists it (GET /containers/json): not inspected. */
export interface ContainerSummary {
  id: string;
  /** Name without the leading slash. */
  name: string;
  image: string;
  /** The id of its image (sha256:…), also when the image lost its tag. */
  imageId: string;
  /** created, restarting, running, removing, paused, exited, dead. */
  state: string;
  /** Docker's human status, e.g. "Exited (0) 2 hours ago". */
  status: string;
  /** ISO time of creation. */
  createdAt: string;
  labels: Record<string, string>;
  /** Size of the container's writable layer (only when listed with size: true). */
  sizeRwBytes?: number;
}

/** One image as the engine lists it (GET /images/json). */
export interface ImageSummary {
  id: string;
  /** Its tags (empty for a dangling image). */
  repoTags: string[];
  createdAt: string;
  sizeBytes: number;
}

/** What the engine says about itself (GET /info). */
export interface DockerEngineInfo {
  /** The engine's host name (docker info: Name, the host's hostname). */
  name: string;
  /** The engine's own id (docker info: ID), stable across restarts of that engine. */
  id: string;
  serverVersion: string;
  /** Where the engine keeps images, containers and volumes on its host, e.g. /var/lib/docker. */
  dockerRootDir: string;
  cpus: number;
  memoryBytes: number;
}

export interface DockerPort {
  ping(options: CallOptions): Promise<{ version: string; apiVersion: string }>;
  /** docker info: the engine's version, data root, CPUs and memory. */
  engineInfo(options: CallOptions): Promise<DockerEngineInfo>;
  /** Containers of a compose project (all states), each inspected (health, restart count). */
  listProjectContainers(project: string, options: CallOptions): Promise<ContainerInfo[]>;
  /** The last `tail` log lines (stdout and stderr, demultiplexed), oldest first; with timestamps, each starts with Docker's RFC 3339 time. */
  tailLogs(container: string, tail: number, options: CallOptions & { timestamps?: boolean }): Promise<string[]>;
  stats(container: string, options: CallOptions): Promise<ContainerStats>;
  /** A one-shot reading of the counters (fast when the engine is not asked twice within its 1 s cycle). */
  statsSample(container: string, options: CallOptions): Promise<ContainerStatsSample>;
  inspectContainer(container: string, options: CallOptions): Promise<ContainerInfo>;
  /** docker stop (SIGTERM, then SIGKILL after the grace period); already stopped is fine. */
  stopContainer(container: string, options: CallOptions & { graceSeconds?: number }): Promise<void>;
  startContainer(container: string, options: CallOptions): Promise<void>;
  restartContainer(container: string, options: CallOptions & { graceSeconds?: number }): Promise<void>;
  exec(container: string, options: ExecOptions): Promise<ExecProcess>;
  /** docker pause / unpause (already paused / running is fine). */
  pauseContainer(container: string, options: CallOptions): Promise<void>;
  unpauseContainer(container: string, options: CallOptions): Promise<void>;
  /** The container's configured environment (Config.Env) as a map. Values may be secrets: mask before showing. */
  containerEnv(container: string, options: CallOptions): Promise<Record<string, string>>;
  /**
   * What `docker-compose down` + `up` does to one container: removes it (stopping it first)
   * and creates it again from the same configuration (image, command, environment, labels,
   * mounts, network mode, restart policy, healthcheck), then starts it. Returns the new id.
   */
  recreateContainer(container: string, options: CallOptions & { graceSeconds?: number }): Promise<string>;
  /** Containers of the whole engine (GET /containers/json), e.g. { all: true, filters: { status: ['exited'] } }; size: with their writable layer's size. */
  listContainers(
    query: { all?: boolean; filters?: Record<string, string[]>; size?: boolean },
    options: CallOptions,
  ): Promise<ContainerSummary[]>;
  /** DELETE /containers/{id}, never forced: a running container is refused (409); its volumes are kept. */
  removeContainer(container: string, options: CallOptions): Promise<void>;
  /** Images (GET /images/json); dangling: only untagged images (the engine's dangling=true filter). */
  listImages(query: { dangling?: boolean }, options: CallOptions): Promise<ImageSummary[]>;
  /** DELETE /images/{id}, never forced: an image a container uses is refused (409). Returns the ids the engine deleted. */
  removeImage(image: string, options: CallOptions): Promise<string[]>;
}
