/** The port of host/ (the ERP host's node exporter). */
import { CallOptions } from '../integration-error';

/** One mounted file system of the ERP host, as its node exporter reports it (bytes). */
export interface HostFilesystem {
  /** Where it is mounted on the ERP host, e.g. /var/lib/docker. */
  mountpoint: string;
  /** The device, e.g. /dev/vda or tmpfs: mountpoints sharing a device are one file system. */
  device: string;
  fsType: string;
  sizeBytes: number;
  /** Free blocks, the root-reserved ones included (node_filesystem_free_bytes). */
  freeBytes: number;
  /** Free to unprivileged users (node_filesystem_avail_bytes): what df shows as Avail. */
  availableBytes: number;
}

/** The ERP host's resources at one reading. */
export interface HostReading {
  /** Where the reading came from (the node exporter's URL, credentials masked). */
  source: string;
  cpus: number;
  /** Load average over 1, 5 and 15 minutes. */
  load: [number, number, number];
  memory: { totalBytes: number; availableBytes: number; usedPercent: number };
  filesystems: HostFilesystem[];
}

/** The disk usage of one path of the ERP host: the file system its longest mountpoint prefix names. */
export interface PathDiskUsage {
  path: string;
  mountpoint: string;
  device: string;
  sizeBytes: number;
  /** size - free (root-reserved blocks count as free, as df computes Used). */
  usedBytes: number;
  /** Available to unprivileged users (df's Avail). */
  freeBytes: number;
  /** As df computes Use%: used / (used + available), one decimal. */
  usedPercent: number;
}

export interface HostResourcesPort {
  /** CPU count, load, memory and every file system of the ERP host, in one fresh reading. */
  read(options: CallOptions): Promise<HostReading>;
  /** The disk usage of each path on the ERP host, in one reading; a path no file system covers gets an error. */
  diskUsage(paths: string[], options: CallOptions): Promise<(PathDiskUsage | { path: string; error: string })[]>;
  /** The disk usage of the Docker engine's data root (docker info's DockerRootDir) on the ERP host. */
  dockerDataRoot(options: CallOptions): Promise<PathDiskUsage>;
}
