import { ProcedureDefinition } from '../../../procedures/procedure';
import { RemediationDeps } from '../remediation-deps';
import { alertsStormProcedures } from './alerts-storm';

/** The runbook's common issues and emergency procedures (one file each). */
export function remediationProcedures(deps: RemediationDeps): ProcedureDefinition[] {
  const factories: ((deps: RemediationDeps) => ProcedureDefinition | ProcedureDefinition[])[] = [
    // one line per procedure file
    alertsStormProcedures,
  ];
  return factories.flatMap((make) => make(deps));
}
