/**
 * Reading from containers: log tails, one-shot stats readings and commands run in them
 * (docker exec), streamed with backpressure. DockerEngine offers them as its methods.
 */
import { Readable, Writable } from 'node:stream';
import { ContainerStatsSample, ExecOptions, ExecProcess } from '../contracts';
import { CallOptions } from '../integration-error';
import { DockerClient } from './docker-client';
import { computeStats, demuxLogLines, ExecDemux, num } from './docker-frames';

const MAX_TAIL = 10000;

export interface TailLogsOptions extends CallOptions {
  /** Prefix each line with Docker's RFC 3339 timestamp. */
  timestamps?: boolean;
}

/** The last `tail` log lines of a container (stdout and stderr, demultiplexed), oldest first. */
export async function tailLogs(client: DockerClient, container: string, tail: number, options: TailLogsOptions): Promise<string[]> {
  const lines = Math.max(0, Math.min(MAX_TAIL, Math.floor(Number.isFinite(tail) ? tail : 0)));
  return client.run(`reading the last ${lines} log lines of ${container}`, options, async (signal) => {
    const info = await client.inspectRaw(container, signal);
    const tty = info?.Config?.Tty === true;
    const raw = await client.dialRaw(
      `/containers/${encodeURIComponent(container)}/logs?`,
      { stdout: true, stderr: true, tail: lines, timestamps: options.timestamps === true },
      signal,
    );
    const out = demuxLogLines(raw, tty);
    return out.length > lines ? out.slice(out.length - lines) : out;
  });
}

/** One reading of a container's cumulative CPU and memory counters. */
export async function statsSample(client: DockerClient, container: string, options: CallOptions): Promise<ContainerStatsSample> {
  return client.run(`reading the stats of ${container}`, options, async (signal) => {
    // Through dialRaw: dockerode's stats() puts the abort signal into the query string.
    const raw = await client.dialRaw(`/containers/${encodeURIComponent(container)}/stats?`, { stream: false, 'one-shot': true }, signal);
    let s: any;
    try {
      s = JSON.parse(raw.toString('utf8'));
    } catch {
      throw client.bad(`reading the stats of ${container}`, 'answered something that is not JSON');
    }
    if (!s || typeof s !== 'object') throw client.bad(`reading the stats of ${container}`, 'answered something that is not JSON');
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

/**
 * Runs a command in a container (POST /containers/{id}/exec, /exec/{id}/start hijacked,
 * GET /exec/{id}/json for the exit code). stdout streams with backpressure; stdin, when
 * asked for, is the connection's write side (ending it closes the command's stdin).
 * Destroying the process (or the abort signal) drops the connection.
 */
export async function execIn(client: DockerClient, container: string, options: ExecOptions): Promise<ExecProcess> {
  const what = `running ${options.cmd[0]} in container ${container}`;
  const { exec, socket } = await client.run(what, { timeoutMs: options.startTimeoutMs ?? 10_000 }, async (signal) => {
    const exec = await client.docker.getContainer(container).exec({
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
