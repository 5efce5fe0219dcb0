import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type BackupKind = 'manual' | 'scheduled' | 'safety';
export type VerifyStatus = 'unverified' | 'verified' | 'failed';
export type DumpVia = 'docker-exec' | 'tcp';

const bigint = { from: (v: string | null) => (v === null ? null : Number(v)), to: (v: number | null) => v };

/** One backup file the control plane made (the catalog); ids, never paths, name them. */
@Entity({ name: 'backups' })
@Check('backups_kind_check', `kind IN ('manual', 'scheduled', 'safety')`)
@Check('backups_verify_status_check', `verify_status IN ('unverified', 'verified', 'failed')`)
@Check('backups_dump_via_check', `dump_via IN ('docker-exec', 'tcp')`)
@Index('backups_file_name_key', ['fileName'], { unique: true, where: 'deleted_at IS NULL' })
@Index('backups_created_at_idx', ['createdAt', 'id'])
export class BackupEntity {
  @PrimaryColumn({ type: 'uuid' }) id: string;
  @Column({ name: 'file_name', type: 'varchar', length: 255 }) fileName: string;
  @Column({ type: 'varchar', length: 20 }) kind: BackupKind;
  @Column({ name: 'size_bytes', type: 'bigint', transformer: bigint }) sizeBytes: number;
  @Column({ type: 'char', length: 64 }) sha256: string;
  @Column({ name: 'database_name', type: 'varchar', length: 128 }) databaseName: string;
  @Column({ name: 'database_size_bytes', type: 'bigint', transformer: bigint }) databaseSizeBytes: number;
  @Column({ name: 'server_version', type: 'varchar', length: 100 }) serverVersion: string;
  @Column({ name: 'dump_via', type: 'varchar', length: 20 }) dumpVia: DumpVia;
  @Column({ name: 'exit_status', type: 'integer' }) exitStatus: number;
  @Column({ name: 'duration_ms', type: 'integer' }) durationMs: number;
  @Column({ name: 'uncompressed_bytes', type: 'bigint', transformer: bigint }) uncompressedBytes: number;
  @Column({ name: 'row_counts', type: 'jsonb' }) rowCounts: Record<string, number>;
  @Column({ name: 'run_id', type: 'uuid', nullable: true }) runId: string | null;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'verify_status', type: 'varchar', length: 20, default: 'unverified' }) verifyStatus: VerifyStatus;
  @Column({ name: 'verified_at', type: 'timestamptz', nullable: true }) verifiedAt: Date | null;
  @Column({ name: 'verify_error', type: 'text', nullable: true }) verifyError: string | null;
  @Column({ name: 'drill_duration_ms', type: 'integer', nullable: true }) drillDurationMs: number | null;
  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true }) deletedAt: Date | null;
  @Column({ name: 'deleted_by', type: 'varchar', length: 128, nullable: true }) deletedBy: string | null;
}
