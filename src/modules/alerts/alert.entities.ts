import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { AmMatcher } from '../../integrations/contracts';

export type NotificationStatus = 'firing' | 'resolved';

/** One alert of a stored webhook notification, with the procedure that addresses it. */
export interface StoredAlert {
  fingerprint: string;
  status: NotificationStatus;
  alertname: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string | null;
  remediation: string | null;
}

/** A notification Alertmanager's webhook delivered, stored once (dedupe_key is unique). */
@Entity({ name: 'alert_notifications' })
@Check('alert_notifications_status_check', `status IN ('firing', 'resolved')`)
@Index('alert_notifications_dedupe_key', ['dedupeKey'], { unique: true })
@Index('alert_notifications_received_at_idx', ['receivedAt', 'id'])
export class AlertNotificationEntity {
  @PrimaryColumn({ type: 'uuid' }) id: string;
  @Column({ name: 'dedupe_key', type: 'char', length: 64 }) dedupeKey: string;
  @Column({ name: 'group_key', type: 'text' }) groupKey: string;
  @Column({ type: 'varchar', length: 10 }) status: NotificationStatus;
  @Column({ type: 'varchar', length: 255 }) receiver: string;
  @Column({ name: 'group_labels', type: 'jsonb' }) groupLabels: Record<string, string>;
  @Column({ name: 'common_labels', type: 'jsonb' }) commonLabels: Record<string, string>;
  @Column({ name: 'external_url', type: 'text', nullable: true }) externalUrl: string | null;
  @Column({ name: 'truncated_alerts', type: 'integer', default: 0 }) truncatedAlerts: number;
  @Column({ name: 'alert_count', type: 'integer' }) alertCount: number;
  @Column({ name: 'alert_names', type: 'jsonb' }) alertNames: Record<string, number>;
  @Column({ type: 'jsonb' }) alerts: StoredAlert[];
  @Column({ name: 'received_by', type: 'varchar', length: 128 }) receivedBy: string;
  @Column({ name: 'received_at', type: 'timestamptz' }) receivedAt: Date;
}

/** A silence the control plane created in Alertmanager (alerts.storm), by run. */
@Entity({ name: 'alert_silences' })
@Index('alert_silences_run_id_idx', ['runId'])
export class AlertSilenceEntity {
  @PrimaryColumn({ name: 'silence_id', type: 'uuid' }) silenceId: string;
  @Column({ name: 'run_id', type: 'uuid' }) runId: string;
  @Column({ name: 'created_by', type: 'varchar', length: 128 }) createdBy: string;
  @Column({ type: 'jsonb' }) matchers: AmMatcher[];
  @Column({ type: 'text' }) comment: string;
  @Column({ name: 'starts_at', type: 'timestamptz' }) startsAt: Date;
  @Column({ name: 'ends_at', type: 'timestamptz' }) endsAt: Date;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @Column({ name: 'expired_at', type: 'timestamptz', nullable: true }) expiredAt: Date | null;
  @Column({ name: 'expired_by_run', type: 'uuid', nullable: true }) expiredByRun: string | null;
}
