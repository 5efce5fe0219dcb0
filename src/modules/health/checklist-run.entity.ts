import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { ChecklistItemResult, ChecklistKind } from './checklist';
import type { Verdict } from './check';

@Entity({ name: 'checklist_runs' })
@Check('checklist_runs_trigger_check', `trigger IN ('manual', 'schedule')`)
@Check('checklist_runs_verdict_check', `verdict IN ('pass', 'warn', 'unknown', 'fail')`)
@Index('checklist_runs_started_at_idx', ['startedAt', 'id'])
@Check('checklist_runs_kind_check', `kind IN ('checklist', 'hourly')`)
@Index('checklist_runs_kind_started_at_idx', ['kind', 'startedAt', 'id'])
@Index('checklist_runs_scheduled_for_key', ['kind', 'scheduledFor'], { unique: true, where: 'scheduled_for IS NOT NULL' })
export class ChecklistRunEntity {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt: Date;

  @Column({ name: 'finished_at', type: 'timestamptz' })
  finishedAt: Date;

  @Column({ name: 'duration_ms', type: 'integer' })
  durationMs: number;

  @Column({ name: 'deadline_ms', type: 'integer' })
  deadlineMs: number;

  /** The sum of the checks' own durations: what the run would take one check after another. */
  @Column({ name: 'checks_duration_ms', type: 'integer' })
  checksDurationMs: number;

  @Column({ type: 'varchar', length: 20 })
  trigger: 'manual' | 'schedule';

  /** The daily startup checklist (every item), or the hourly health check (its items only). */
  @Column({ type: 'varchar', length: 16, default: 'checklist' })
  kind: ChecklistKind;

  @Column({ name: 'requested_by', type: 'varchar', length: 128, nullable: true })
  requestedBy: string | null;

  /** The schedule's tick this run served (unique: a tick runs once, whatever the replicas). */
  @Column({ name: 'scheduled_for', type: 'timestamptz', nullable: true })
  scheduledFor: Date | null;

  @Column({ type: 'varchar', length: 10 })
  verdict: Verdict;

  @Column({ type: 'jsonb' })
  items: ChecklistItemResult[];
}
