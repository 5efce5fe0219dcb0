import { ProcedureDefinition } from '../../../procedures/procedure';
import { RemediationDeps } from '../remediation-deps';
import { alertsStormProcedures } from './alerts-storm';
import { diskCleanupProcedure } from './disk-cleanup';
import { logsElasticsearchIngestProcedure } from './logs-elasticsearch-ingest';

/** The runbook's common issues and emergency procedures (one file each). */
export function remediationProcedures(deps: RemediationDeps): ProcedureDefinition[] {
  const factories: ((deps: RemediationDeps) => ProcedureDefinition | ProcedureDefinition[])[] = [
    // one line per procedure file
    alertsStormProcedures,
    diskCleanupProcedure,
    logsElasticsearchIngestProcedure,
  ];
  return factories.flatMap((make) => make(deps));
}
