/**
 * The catalog's pure parts: how an entry or an unknown file is shown, and which backups a
 * retention rule deletes. No I/O: the service reads the catalog and the directory and passes
 * them in, so that unit tests can check the rules alone.
 */
import { DirectoryFile } from './backup-files';
import { BackupEntity, BackupKind } from './backup.entity';

export interface RetentionPlan {
  mode: 'window' | 'disk-pressure';
  rule: string;
  delete: { id: string; fileName: string; createdAt: string; sizeBytes: number; reason: string }[];
  keep: { id: string; fileName: string; reason: string }[];
  /** Files in the directory the catalog does not know: listed, never deleted. */
  unknownFiles: { fileName: string; sizeBytes: number; modifiedAt: string }[];
  /** Catalog entries whose file is gone from the directory. */
  missingFiles: { id: string; fileName: string }[];
}

export interface CatalogItem {
  id: string | null;
  fileName: string;
  known: boolean;
  kind: BackupKind | null;
  createdAt: string;
  ageSeconds: number;
  sizeBytes: number;
  sha256: string | null;
  verifyStatus: string;
  verifiedAt: string | null;
  verifyError: string | null;
  drillDurationMs: number | null;
  databaseName: string | null;
  databaseSizeBytes: number | null;
  serverVersion: string | null;
  durationMs: number | null;
  dumpVia: string | null;
  rowCounts: Record<string, number> | null;
  runId: string | null;
  fileMissing: boolean;
}

const ageSeconds = (now: Date, at: Date) => Math.max(0, Math.round((now.getTime() - at.getTime()) / 1000));

/** A catalog entry as the API shows it. */
export function catalogItem(e: BackupEntity, now: Date, fileOnDisk = true): CatalogItem {
  return {
    id: e.id,
    fileName: e.fileName,
    known: true,
    kind: e.kind,
    createdAt: e.createdAt.toISOString(),
    ageSeconds: ageSeconds(now, e.createdAt),
    sizeBytes: e.sizeBytes,
    sha256: e.sha256,
    verifyStatus: e.deletedAt ? 'deleted' : e.verifyStatus,
    verifiedAt: e.verifiedAt?.toISOString() ?? null,
    verifyError: e.verifyError,
    drillDurationMs: e.drillDurationMs,
    databaseName: e.databaseName,
    databaseSizeBytes: e.databaseSizeBytes,
    serverVersion: e.serverVersion,
    durationMs: e.durationMs,
    dumpVia: e.dumpVia,
    rowCounts: e.rowCounts,
    runId: e.runId,
    fileMissing: !e.deletedAt && !fileOnDisk,
  };
}

/** A file the catalog does not know, as the listing shows it (never deleted by retention). */
export function unknownFileItem(f: DirectoryFile, now: Date, naming: RegExp): CatalogItem {
  return {
    id: null,
    fileName: f.name,
    known: false,
    kind: null,
    createdAt: f.modifiedAt.toISOString(),
    ageSeconds: ageSeconds(now, f.modifiedAt),
    sizeBytes: f.bytes,
    sha256: null,
    verifyStatus: naming.test(f.name) ? 'unknown: named like a backup but not in the catalog' : 'unknown: not in the catalog',
    verifiedAt: null,
    verifyError: null,
    drillDurationMs: null,
    databaseName: null,
    databaseSizeBytes: null,
    serverVersion: null,
    durationMs: null,
    dumpVia: null,
    rowCounts: null,
    runId: null,
    fileMissing: false,
  };
}

/**
 * Which live catalog entries (newest first) a rule deletes: older than `retentionDays`
 * (window) or beyond the newest `keepLast` (disk pressure); the newest verified backup is
 * always kept. Files the catalog does not know are listed, never deleted.
 */
export function retentionPlanOf(
  entries: BackupEntity[],
  files: DirectoryFile[],
  rule: { mode: 'window' | 'disk-pressure'; retentionDays: number; keepLast: number },
  now: Date,
): RetentionPlan {
  const { mode, retentionDays, keepLast } = rule;
  const onDisk = new Set(files.map((f) => f.name));
  const known = new Set(entries.map((e) => e.fileName));
  const newestVerified = entries.find((e) => e.verifyStatus === 'verified');
  const cutoff = now.getTime() - retentionDays * 86_400_000;
  const window = mode === 'window';
  const plan: RetentionPlan = {
    mode,
    rule: window ? `delete backups older than ${retentionDays} days` : `disk pressure: keep only the newest ${keepLast}`,
    delete: [],
    keep: [],
    unknownFiles: files
      .filter((f) => !known.has(f.name))
      .map((f) => ({ fileName: f.name, sizeBytes: f.bytes, modifiedAt: f.modifiedAt.toISOString() })),
    missingFiles: entries.filter((e) => !onDisk.has(e.fileName)).map((e) => ({ id: e.id, fileName: e.fileName })),
  };
  entries.forEach((e, index) => {
    const expired = window ? e.createdAt.getTime() < cutoff : index >= keepLast;
    if (!expired)
      plan.keep.push({ id: e.id, fileName: e.fileName, reason: window ? `within ${retentionDays} days` : `among the newest ${keepLast}` });
    else if (e.id === newestVerified?.id)
      plan.keep.push({ id: e.id, fileName: e.fileName, reason: 'the newest verified backup is never deleted' });
    else
      plan.delete.push({
        id: e.id,
        fileName: e.fileName,
        createdAt: e.createdAt.toISOString(),
        sizeBytes: e.sizeBytes,
        reason: window ? `older than ${retentionDays} days` : `beyond the newest ${keepLast}`,
      });
  });
  return plan;
}
