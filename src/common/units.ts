/**
 * One unit convention for sizes shown to people: decimal gigabytes (GB = 10^9 bytes), the
 * unit of the runbook's "100 GB free" and of `df -H`. Stored and compared figures stay in
 * bytes; only what a person reads is in GB.
 */
export const GB = 1e9;

/** Bytes as decimal GB, rounded to `digits` places (2: 12.35 GB). */
export function toGb(bytes: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round((bytes / GB) * scale) / scale;
}

/** A GB figure (e.g. the inventory's thresholds.freeDiskGbMin) in bytes. */
export function gbToBytes(gb: number): number {
  return gb * GB;
}

/** "12.35 GB" */
export function formatGb(bytes: number, digits = 2): string {
  return `${toGb(bytes, digits)} GB`;
}

/** used / (used + available to unprivileged users), in percent with one decimal: how df computes Use%. */
export function usedPercent(usedBytes: number, availableBytes: number): number {
  const total = usedBytes + availableBytes;
  return total > 0 ? Math.round((usedBytes / total) * 1000) / 10 : 0;
}
