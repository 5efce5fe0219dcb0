import { ProcedureDefinition } from '../../../procedures/procedure';
import { RemediationDeps } from '../remediation-deps';
import { alertsStormProcedures } from './alerts-storm';
import { highLatencyProcedure } from './api-high-latency';
import { crashLoopProcedure } from './backend-crash-loop';
import { connectionPoolProcedure } from './db-connection-pool';
import { diskCleanupProcedure } from './disk-cleanup';
import { dataCorruptionProcedure } from './emergency-data-corruption';
import { outageProcedure } from './emergency-outage';
import { logsElasticsearchIngestProcedure } from './logs-elasticsearch-ingest';
import { serviceRestartProcedure } from './service-restart';

/** The runbook's common issues and emergency procedures (one file each). */
export function remediationProcedures(deps: RemediationDeps): ProcedureDefinition[] {
  const factories: ((deps: RemediationDeps) => ProcedureDefinition | ProcedureDefinition[])[] = [
    // one line per procedure file
    connectionPoolProcedure,
    highLatencyProcedure,
    crashLoopProcedure,
    outageProcedure,
    dataCorruptionProcedure,
    alertsStormProcedures,
    diskCleanupProcedure,
    logsElasticsearchIngestProcedure,
    serviceRestartProcedure,
  ];
  return factories.flatMap((make) => make(deps));
}
