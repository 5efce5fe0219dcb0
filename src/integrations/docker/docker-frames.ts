/**
 * What the Docker engine's byte streams and counters mean, without talking to it: the
 * multiplexed log and exec streams, and CPU and memory as `docker stats` computes them.
 */
import { Transform, TransformCallback } from 'node:stream';
import { ContainerHealth, ContainerStats, ContainerStatsSample } from '../contracts';

export interface DockerContainerStats extends ContainerStats {
  /** As `docker stats` shows it: 100 per fully used core. */
  cpuPercentOfOneCore: number;
  onlineCpus: number;
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

export function healthOf(status: unknown): ContainerHealth {
  return status === 'healthy' || status === 'unhealthy' || status === 'starting' ? status : 'none';
}

export function num(value: unknown): number {
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
