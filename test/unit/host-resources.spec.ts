/**
 * Pure logic of the ERP host adapter: the node exporter's text exposition parsed, a path
 * mapped to the file system that holds it (longest mountpoint prefix), the default URL of
 * the node exporter, and the one unit for people (decimal GB, not GiB).
 */
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { formatGb, GB, toGb, usedPercent } from '../../src/common/units';
import { defaultNodeExporterUrl } from '../../src/config/inventory.schema';
import { HostFilesystem } from '../../src/integrations/contracts';
import { hostReadingOf, parseExposition, pathDiskUsage } from '../../src/integrations/host/node-exposition';

const PAGE = `# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 301.88
node_cpu_seconds_total{cpu="0",mode="user"} 12.5
node_cpu_seconds_total{cpu="1",mode="idle"} 299
node_cpu_seconds_total{cpu="1",mode="user"} 1e1
# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
node_filesystem_avail_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 8.1201942528e+10
node_filesystem_avail_bytes{device="/dev/vda",fstype="ext4",mountpoint="/var/lib/docker"} 8.1201942528e+10
node_filesystem_avail_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/srv"} 6.7108864e+07
node_filesystem_free_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 9.5e+10
node_filesystem_free_bytes{device="/dev/vda",fstype="ext4",mountpoint="/var/lib/docker"} 9.5e+10
node_filesystem_free_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/srv"} 6.7108864e+07
node_filesystem_size_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"} 2.70553174016e+11
node_filesystem_size_bytes{device="/dev/vda",fstype="ext4",mountpoint="/var/lib/docker"} 2.70553174016e+11
node_filesystem_size_bytes{device="tmpfs",fstype="tmpfs",mountpoint="/srv"} 6.7108864e+07
node_filesystem_readonly{device="tmpfs",fstype="tmpfs",mountpoint="/srv"} 0
node_load1 21.35
node_load15 4.04
node_load5 9.8
node_memory_MemAvailable_bytes 2.1025288192e+10
node_memory_MemTotal_bytes 2.5276157952e+10
node_network_receive_bytes_total{device="lo"} 123
`;

describe('the node exporter exposition', () => {
  it('reads only the wanted series, with labels and values (exponents included)', () => {
    const samples = parseExposition(PAGE);
    expect(samples.some((s) => s.name === 'node_network_receive_bytes_total' || s.name === 'node_filesystem_readonly')).toBe(false);
    expect(samples.find((s) => s.name === 'node_filesystem_size_bytes' && s.labels.mountpoint === '/srv')).toEqual({
      name: 'node_filesystem_size_bytes',
      labels: { device: 'tmpfs', fstype: 'tmpfs', mountpoint: '/srv' },
      value: 67108864,
    });
    expect(samples.find((s) => s.name === 'node_cpu_seconds_total' && s.labels.mode === 'user' && s.labels.cpu === '1')?.value).toBe(10);
  });

  it('unescapes label values and skips malformed lines', () => {
    const text = [
      'node_filesystem_size_bytes{device="a\\"b",fstype="x",mountpoint="/with\\\\slash"} 5 1700000000000',
      'node_filesystem_size_bytes{device="broken} 5',
      'node_load1 not-a-number',
      'node_load5',
    ].join('\n');
    expect(parseExposition(text)).toEqual([
      { name: 'node_filesystem_size_bytes', labels: { device: 'a"b', fstype: 'x', mountpoint: '/with\\slash' }, value: 5 },
    ]);
  });

  it('gives CPU count, load, memory and the file systems of the host', () => {
    const reading = hostReadingOf(parseExposition(PAGE), 'http://erp-host:9100/metrics');
    expect(reading).toMatchObject({
      source: 'http://erp-host:9100/metrics',
      cpus: 2,
      load: [21.35, 9.8, 4.04],
      memory: { totalBytes: 25276157952, availableBytes: 21025288192, usedPercent: 16.8 },
    });
    expect(reading.filesystems.map((f) => [f.mountpoint, f.device, f.sizeBytes])).toEqual([
      ['/', '/dev/vda', 270553174016],
      ['/srv', 'tmpfs', 67108864],
      ['/var/lib/docker', '/dev/vda', 270553174016],
    ]);
  });

  it('names the collectors that are missing', () => {
    expect(() => hostReadingOf(parseExposition('node_load1 1\nnode_load5 1\nnode_load15 1\n'), 'x')).toThrow(
      /node_cpu_seconds_total \(collector cpu\).*meminfo.*collector filesystem/,
    );
  });
});

describe('a path of the host and its file system', () => {
  const filesystems: HostFilesystem[] = hostReadingOf(parseExposition(PAGE), 'x').filesystems;

  it('is the longest mountpoint prefix, by whole path segments', () => {
    expect(pathDiskUsage('/srv/erp-data', filesystems)).toMatchObject({ mountpoint: '/srv', device: 'tmpfs', sizeBytes: 67108864 });
    expect(pathDiskUsage('/srv', filesystems)?.mountpoint).toBe('/srv');
    expect(pathDiskUsage('/srv/', filesystems)?.mountpoint).toBe('/srv');
    expect(pathDiskUsage('/srvx/data', filesystems)?.mountpoint).toBe('/');
    expect(pathDiskUsage('/var/lib/docker/volumes/x', filesystems)?.mountpoint).toBe('/var/lib/docker');
    expect(pathDiskUsage('/var/lib/../lib/docker', filesystems)?.mountpoint).toBe('/var/lib/docker');
    expect(pathDiskUsage('/home', [])).toBeUndefined();
  });

  it('counts used and free as df does (reserved blocks free for Used, not available)', () => {
    const usage = pathDiskUsage('/var/lib/postgresql', filesystems)!;
    expect(usage).toEqual({
      path: '/var/lib/postgresql',
      mountpoint: '/',
      device: '/dev/vda',
      sizeBytes: 270553174016,
      usedBytes: 270553174016 - 95e9,
      freeBytes: 81201942528,
      usedPercent: usedPercent(270553174016 - 95e9, 81201942528),
    });
    expect(usage.usedPercent).toBe(68.4);
    // Paths on the same device are one file system, whichever mountpoint names them.
    expect(pathDiskUsage('/var/lib/docker', filesystems)?.device).toBe(usage.device);
  });
});

describe('units and defaults', () => {
  it('shows sizes in decimal GB, the runbook unit ("100 GB free"), not GiB', () => {
    expect(GB).toBe(1e9);
    expect(toGb(100e9)).toBe(100);
    expect(formatGb(81201942528, 1)).toBe('81.2 GB');
    // The same bytes in GiB would read 75.6: the two must not be mixed.
    expect(Math.round((81201942528 / 2 ** 30) * 10) / 10).toBe(75.6);
    expect(toGb(67108864, 3)).toBe(0.067);
  });

  it('looks for the node exporter on the Docker host when that is remote', () => {
    expect(defaultNodeExporterUrl('tcp://erp-host.example:2375')).toBe('http://erp-host.example:9100');
    expect(defaultNodeExporterUrl('http://10.0.0.5:2375')).toBe('http://10.0.0.5:9100');
    expect(defaultNodeExporterUrl('unix:///var/run/docker.sock')).toBe('http://127.0.0.1:9100');
  });
});
