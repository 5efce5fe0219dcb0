import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IntegrationsModule } from '../../integrations/integrations.module';
import { BackupsModule } from '../backups/backups.module';
import { ChecklistRunEntity } from './checklist-run.entity';
import { ChecklistScheduler, HourlyHealthScheduler } from './checklist.scheduler';
import { ChecklistService } from './checklist.service';
import { HealthSummaryService } from './health-summary.service';
import { HealthController } from './health.controller';
import { HealthMetrics } from './health.metrics';
import { HealthResolver } from './health.resolver';
import { LogsFlowStore } from './logs-flow.store';
import { StatsSampler } from './stats-sampler';

/** The ERP stack's health: checks, the daily checklist, its history and schedule. */
@Module({
  imports: [TypeOrmModule.forFeature([ChecklistRunEntity]), IntegrationsModule, BackupsModule],
  controllers: [HealthController],
  providers: [
    StatsSampler,
    ChecklistService,
    HealthSummaryService,
    LogsFlowStore,
    ChecklistScheduler,
    HourlyHealthScheduler,
    HealthMetrics,
    HealthResolver,
  ],
  exports: [ChecklistService],
})
export class HealthModule {}
