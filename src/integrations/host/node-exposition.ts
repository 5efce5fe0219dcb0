/**
 * What a node exporter's /metrics page says about its host, without fetching it: the
 * Prometheus text exposition format parsed for the few series the host adapter needs, and a
 * path mapped to the file system that holds it (the longest mountpoint prefix, as df does).
 */
import { posix } from 'node:path';
import { usedPercent } from '../../common/units';
import { HostFilesystem, HostReading, PathDiskUsage } from '../contracts';

export interface ExpositionSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The series the host adapter reads; every other line of the page is skipped unparsed. */
export const HOST_SERIES = [
  'node_cpu_seconds_total',
  'node_load1',
  'node_load5',
  'node_load15',
  'node_memory_MemTotal_bytes',
  'node_memory_MemAvailable_bytes',
  'node_filesystem_size_bytes',
  'node_filesystem_free_bytes',
  'node_filesystem_avail_bytes',
];

const ESCAPES: Record<string, string> = { n: '\n', '\\': '\\', '"': '"' };

/** The labels of `{a="1",b="x\"y"}` starting at `open` (the brace); returns them and the index after the closing brace. */
function parseLabels(line: string, open: number): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  let i = open + 1;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') return undefined;
    const name = line.slice(i, eq).trim();
    let value = '';
    for (i = eq + 2; i < line.length && line[i] !== '"'; i++) value += line[i] === '\\' ? (ESCAPES[line[++i]] ?? line[i]) : line[i];
    if (i >= line.length) return undefined;
    labels[name] = value;
    i++;
  }
}

/** Parses one sample line (`name{labels} value [timestamp]`); undefined for a line that is not one. */
function parseLine(line: string, wanted: Set<string>): ExpositionSample | undefined {
  const nameEnd = line.search(/[{\s]/);
  const name = nameEnd < 0 ? line : line.slice(0, nameEnd);
  if (!wanted.has(name) || nameEnd < 0) return undefined;
  let rest = nameEnd;
  let labels: Record<string, string> = {};
  if (line[nameEnd] === '{') {
    const parsed = parseLabels(line, nameEnd);
    if (!parsed) return undefined;
    labels = parsed.labels;
    rest = parsed.end;
  }
  const text = line.slice(rest).trim().split(/\s+/)[0];
  const value = text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
  return text === '' || Number.isNaN(value) ? undefined : { name, labels, value };
}

/** The samples of the wanted metric names in a text exposition (comments and other series skipped). */
export function parseExposition(text: string, names: string[] = HOST_SERIES): ExpositionSample[] {
  const wanted = new Set(names);
  const samples: ExpositionSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const sample = parseLine(line, wanted);
    if (sample) samples.push(sample);
  }
  return samples;
}

/** The file systems in the samples, one entry per mountpoint with all three sizes. */
function filesystemsOf(samples: ExpositionSample[]): HostFilesystem[] {
  const byMount = new Map<string, Partial<HostFilesystem> & { mountpoint: string }>();
  const field: Record<string, 'sizeBytes' | 'freeBytes' | 'availableBytes'> = {
    node_filesystem_size_bytes: 'sizeBytes',
    node_filesystem_free_bytes: 'freeBytes',
    node_filesystem_avail_bytes: 'availableBytes',
  };
  for (const s of samples) {
    const key = field[s.name];
    if (!key || !s.labels.mountpoint) continue;
    const fs = byMount.get(s.labels.mountpoint) ?? {
      mountpoint: s.labels.mountpoint,
      device: s.labels.device ?? '',
      fsType: s.labels.fstype ?? '',
    };
    fs[key] = s.value;
    byMount.set(s.labels.mountpoint, fs);
  }
  return [...byMount.values()]
    .filter((f): f is HostFilesystem => f.sizeBytes !== undefined && f.freeBytes !== undefined && f.availableBytes !== undefined)
    .sort((a, b) => a.mountpoint.localeCompare(b.mountpoint));
}

/**
 * The host reading of a node exporter's samples; throws an Error naming what is missing when
 * a collector the adapter needs (cpu, loadavg, meminfo, filesystem) is not enabled.
 */
export function hostReadingOf(samples: ExpositionSample[], source: string): HostReading {
  const one = (name: string) => samples.find((s) => s.name === name)?.value;
  const cpus = new Set(samples.filter((s) => s.name === 'node_cpu_seconds_total').map((s) => s.labels.cpu)).size;
  const load = [one('node_load1'), one('node_load5'), one('node_load15')];
  const total = one('node_memory_MemTotal_bytes');
  const available = one('node_memory_MemAvailable_bytes');
  const filesystems = filesystemsOf(samples);
  const missing = [
    cpus === 0 ? 'node_cpu_seconds_total (collector cpu)' : '',
    load.some((l) => l === undefined) ? 'node_load1/5/15 (collector loadavg)' : '',
    total === undefined || available === undefined ? 'node_memory_MemTotal_bytes/MemAvailable_bytes (collector meminfo)' : '',
    filesystems.length === 0 ? 'node_filesystem_* (collector filesystem)' : '',
  ].filter(Boolean);
  if (missing.length) throw new Error(`reports no ${missing.join(', ')}`);
  return {
    source,
    cpus,
    load: load as [number, number, number],
    memory: { totalBytes: total!, availableBytes: available!, usedPercent: usedPercent(total! - available!, available!) },
    filesystems,
  };
}

/** True when `mountpoint` is `path` or one of its parent directories (whole path segments). */
function covers(mountpoint: string, path: string): boolean {
  return mountpoint === '/' || path === mountpoint || path.startsWith(`${mountpoint}/`);
}

/**
 * The disk usage of a path of the host: the file system mounted at its longest mountpoint
 * prefix (as df reports a path), undefined when none covers it. Used and free as df counts
 * them: used = size - free (root-reserved blocks count as free), free = available to users.
 */
export function pathDiskUsage(path: string, filesystems: HostFilesystem[]): PathDiskUsage | undefined {
  const normal = posix.normalize(path).replace(/(.)\/+$/, '$1');
  const fs = filesystems.filter((f) => covers(f.mountpoint, normal)).sort((a, b) => b.mountpoint.length - a.mountpoint.length)[0];
  if (!fs) return undefined;
  const used = Math.max(0, fs.sizeBytes - fs.freeBytes);
  return {
    path,
    mountpoint: fs.mountpoint,
    device: fs.device,
    sizeBytes: fs.sizeBytes,
    usedBytes: used,
    freeBytes: fs.availableBytes,
    usedPercent: usedPercent(used, fs.availableBytes),
  };
}
