import { Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { IntegrationsModule } from '../../integrations/integrations.module';
import { AuditModule } from '../../audit/audit.module';
import { AlertsModule } from '../alerts/alerts.module';
import { EscalationEngine } from './escalation.engine';
import { IncidentIntake } from './incident-intake';
import { IncidentLifecycle } from './incident-lifecycle';
import { IncidentReconcile } from './incident-reconcile';
import { IncidentRuns } from './incident-runs';
import { IncidentMetrics } from './incident.metrics';
import { IncidentsController } from './incidents.controller';
import { IncidentEventsController } from './incident-events.controller';
import { IncidentEventStreams } from './incident-events';
import { IncidentsResolver } from './incidents.resolver';
import { IncidentsService } from './incidents.service';

/**
 * Incidents: opened from Alertmanager's deliveries (or by hand), paged along the inventory's
 * escalation chains with timers kept in PostgreSQL, acknowledged from the notification's
 * link, REST or GraphQL, and joined to the procedures that fix them.
 */
@Module({
  imports: [IntegrationsModule, AlertsModule, AuditModule],
  controllers: [IncidentsController, IncidentEventsController],
  providers: [
    IncidentsService,
    IncidentLifecycle,
    IncidentIntake,
    EscalationEngine,
    IncidentRuns,
    IncidentReconcile,
    IncidentMetrics,
    IncidentEventStreams,
    IncidentsResolver,
  ],
  exports: [IncidentsService],
})
export class IncidentsModule implements OnApplicationBootstrap {
  constructor(private readonly incidents: IncidentsService) {}

  onApplicationBootstrap(): void {
    const logger = new Logger('OnCall');
    for (const problem of this.incidents.oncall().problems) logger.warn(`on-call set-up: ${problem}`);
  }
}
