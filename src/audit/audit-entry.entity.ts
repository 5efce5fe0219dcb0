import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type AuditOutcome = 'success' | 'failure' | 'denied';

/** One audit entry; append-only (a trigger refuses UPDATE, DELETE and TRUNCATE). */
@Entity({ name: 'audit_entries' })
@Check('audit_entries_outcome_check', `outcome IN ('success', 'failure', 'denied')`)
@Check('audit_entries_chain_version_check', `chain_version IN (1, 2)`)
@Index('audit_entries_at_idx', ['at', 'id'])
@Index('audit_entries_actor_idx', ['actor', 'id'])
@Index('audit_entries_action_idx', ['action', 'id'])
export class AuditEntryEntity {
  /** From audit_entries_id_seq, taken inside the chain lock so ids follow the chain. */
  @PrimaryColumn({ type: 'bigint' })
  id: string;

  @Column({ type: 'timestamptz' })
  at: Date;

  @Column({ type: 'varchar', length: 128 })
  actor: string;

  @Column({ name: 'actor_role', type: 'varchar', length: 20, nullable: true })
  actorRole: string | null;

  /** The API token the person acted through (`token:<name>`), null for a sign-in. */
  @Column({ name: 'actor_via', type: 'varchar', length: 128, nullable: true })
  actorVia: string | null;

  @Column({ type: 'varchar', length: 100 })
  action: string;

  @Column({ type: 'varchar', length: 255, nullable: true })
  target: string | null;

  @Column({ type: 'jsonb' })
  parameters: Record<string, unknown>;

  @Column({ type: 'varchar', length: 20 })
  outcome: AuditOutcome;

  @Column({ name: 'error_code', type: 'varchar', length: 40, nullable: true })
  errorCode: string | null;

  @Column({ name: 'request_id', type: 'varchar', length: 64, nullable: true })
  requestId: string | null;

  @Column({ name: 'client_address', type: 'varchar', length: 64, nullable: true })
  clientAddress: string | null;

  /** 1: SHA-256 (entries before migration 0011); 2: HMAC-SHA256 with the master key's audit key. */
  @Column({ name: 'chain_version', type: 'smallint', default: 1 })
  chainVersion: number;

  @Column({ name: 'prev_hash', type: 'char', length: 64 })
  prevHash: string;

  @Column({ type: 'char', length: 64 })
  hash: string;
}
