import { BackupEntity } from './modules/backups/backup.entity';
import { PerformanceReportEntity } from './modules/reports/performance-report.entity';
import { ReportDeliveryEntity } from './modules/reports/report-delivery.entity';
import { DailyReviewEntity } from './modules/reports/review/review.entity';
import { AlertNotificationEntity, AlertSilenceEntity } from './modules/alerts/alert.entities';
import { RunEntity, StepEntity } from './procedures/run.entity';
import { ChecklistRunEntity } from './modules/health/checklist-run.entity';
import { AuditEntryEntity } from './audit/audit-entry.entity';
import { ApiTokenEntity } from './modules/auth/entities/api-token.entity';
import { SigningKeyEntity } from './modules/auth/entities/signing-key.entity';
import { UserEntity } from './modules/auth/entities/user.entity';

/** Every entity of the control plane's own database (the drift test compares them with the migrations). */
export const ENTITIES = [
  UserEntity,
  ApiTokenEntity,
  SigningKeyEntity,
  AuditEntryEntity,
  ChecklistRunEntity,
  RunEntity,
  StepEntity,
  BackupEntity,
  PerformanceReportEntity,
  ReportDeliveryEntity,
  DailyReviewEntity,
  AlertNotificationEntity,
  AlertSilenceEntity,
];
