import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';

export type RunStatus =
  'queued' | 'awaiting_approval' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'rejected' | 'expired' | 'interrupted' | 'escalated';
export const FINISHED: RunStatus[] = ['succeeded', 'failed', 'cancelled', 'rejected', 'expired', 'interrupted', 'escalated'];
export type StepStatus = 'pending' | 'planned' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';

@Entity({ name: 'procedure_runs' })
@Check(
  'procedure_runs_status_check',
  `status IN ('queued', 'awaiting_approval', 'running', 'succeeded', 'failed', 'cancelled', 'rejected', 'expired', 'interrupted', 'escalated')`,
)
@Index('procedure_runs_created_at_idx', ['createdAt', 'id'])
@Index('procedure_runs_status_idx', ['status'])
export class RunEntity {
  @PrimaryColumn({ type: 'uuid' }) id: string;
  @Column({ name: 'procedure_id', type: 'varchar', length: 100 }) procedureId: string;
  @Column({ type: 'varchar', length: 2 }) severity: string;
  @Column({ name: 'dry_run', type: 'boolean' }) dryRun: boolean;
  @Column({ type: 'varchar', length: 30 }) status: RunStatus;
  @Column({ type: 'jsonb' }) parameters: Record<string, unknown>;
  @Column({ name: 'requested_by', type: 'varchar', length: 128 }) requestedBy: string;
  /** The person who requested it (a token's owner); null for the scheduler. */
  @Column({ name: 'requested_by_id', type: 'uuid', nullable: true }) requestedById: string | null;
  @Column({ name: 'requested_role', type: 'varchar', length: 20 }) requestedRole: string;
  @Column({ name: 'approved_by', type: 'varchar', length: 128, nullable: true }) approvedBy: string | null;
  @Column({ name: 'approved_by_id', type: 'uuid', nullable: true }) approvedById: string | null;
  @Column({ name: 'decided_at', type: 'timestamptz', nullable: true }) decidedAt: Date | null;
  @Column({ name: 'approval_expires_at', type: 'timestamptz', nullable: true }) approvalExpiresAt: Date | null;
  @Column({ name: 'cancel_requested', type: 'boolean', default: false }) cancelRequested: boolean;
  @Column({ name: 'current_step', type: 'varchar', length: 100, nullable: true }) currentStep: string | null;
  @Column({ type: 'text', nullable: true }) error: string | null;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt: Date | null;
}

@Entity({ name: 'procedure_steps' })
@Check('procedure_steps_status_check', `status IN ('pending', 'planned', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')`)
export class StepEntity {
  @PrimaryColumn({ name: 'run_id', type: 'uuid', primaryKeyConstraintName: 'procedure_steps_pkey' }) runId: string;
  @ManyToOne(() => RunEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'run_id', foreignKeyConstraintName: 'procedure_steps_run_id_fkey' })
  run?: RunEntity;
  @PrimaryColumn({ type: 'integer', primaryKeyConstraintName: 'procedure_steps_pkey' }) position: number;
  @Column({ name: 'step_id', type: 'varchar', length: 100 }) stepId: string;
  @Column({ type: 'varchar', length: 200 }) title: string;
  @Column({ type: 'varchar', length: 20 }) status: StepStatus;
  @Column({ type: 'jsonb', nullable: true }) plan: Record<string, unknown> | null;
  @Column({ type: 'jsonb', nullable: true }) output: Record<string, unknown> | null;
  @Column({ type: 'text', nullable: true }) error: string | null;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt: Date | null;
}
