import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IntegrationsModule } from '../../integrations/integrations.module';
import { AlertNotificationEntity, AlertSilenceEntity } from './alert.entities';
import { AlertsController } from './alerts.controller';
import { AlertsResolver } from './alerts.resolver';
import { AlertsService } from './alerts.service';
import { SilenceRecordsService } from './silence-records.service';

/**
 * Alerts: Alertmanager's firing alerts and silences (read), its webhook notifications
 * (stored once). Silencing is the alerts.storm / alerts.unsilence procedures (remediations).
 */
@Module({
  imports: [TypeOrmModule.forFeature([AlertNotificationEntity, AlertSilenceEntity]), IntegrationsModule],
  controllers: [AlertsController],
  providers: [AlertsService, AlertsResolver, SilenceRecordsService],
  exports: [AlertsService, SilenceRecordsService],
})
export class AlertsModule {}
