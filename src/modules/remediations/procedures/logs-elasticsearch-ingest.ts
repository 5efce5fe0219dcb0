/**
 * Runbook "Common Issues: Issue 4: Elasticsearch Cannot Ingest Logs" as a procedure:
 *   1. cluster health   2. the erp-* indices   3. delete indices older than the retention
 *   4. restart Logstash   5. verify that today's indices receive documents.
 *
 * The runbook's `DELETE erp-*` with a range query does not do what it says (ES 8 refuses
 * wildcards in DELETE, and a delete-index request takes no query): indices are deleted by
 * explicit names, chosen by the date in the name (erp-backend-YYYY.MM.dd). A name without a
 * parsable date is never deleted, only listed.
 *
 * Dates are UTC days: Logstash names daily indices from @timestamp in UTC (%{+YYYY.MM.dd}),
 * and the health module's logs:flowing check reads "today's" indices the same way.
 * The steps are in ./logs-elasticsearch-ingest/, each callable alone with a StepContext.
 */
import { defineProcedure, ProcedureDefinition } from '../../../procedures/procedure';
import { RemediationDeps } from '../remediation-deps';
import { restartLogstashStep, verifyFlowStep } from './logs-elasticsearch-ingest/flow-steps';
import { deleteOldStep, healthStep, indicesStep } from './logs-elasticsearch-ingest/index-steps';
import { LogsIngestDeps, logsIngestParameters, LogsIngestParameters } from './logs-elasticsearch-ingest/retention';

export { indexDate, splitByRetention } from './logs-elasticsearch-ingest/retention';

export function logsElasticsearchIngestProcedure(
  deps: LogsIngestDeps & Pick<RemediationDeps, 'inventory'>,
): ProcedureDefinition<LogsIngestParameters> {
  return defineProcedure<LogsIngestParameters>({
    id: 'logs.elasticsearch-ingest',
    title:
      'Elasticsearch cannot ingest logs: check health, delete old indices by name, restart Logstash, verify logs flow (runbook Issue 4)',
    severity: 'P2',
    domain: 'system',
    parameters: logsIngestParameters,
    // erp:stack: not while emergency.outage restarts or recreates the stack's containers.
    locks: () => ['erp:elasticsearch', 'erp:logstash', 'erp:stack'],
    requiresApproval: false,
    steps: [
      healthStep(deps),
      // The title names the inventory's pattern (shown in plans before any step runs).
      indicesStep(deps, deps.inventory.logs.indexPattern),
      deleteOldStep(deps),
      restartLogstashStep(deps),
      verifyFlowStep(deps),
    ],
  });
}
