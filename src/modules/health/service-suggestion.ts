import { Inventory } from '../../config/inventory.schema';
import { remediationForCheck } from '../../procedures/suggestions';
import { CheckResult } from './check';

/**
 * The procedure a failing check suggests. For a service that is down: the backend's own crash
 * procedure; an outage (emergency.outage) only when more than one critical service is down;
 * otherwise that one service is restarted alone (service.restart). Other checks: by their id.
 */
export function suggestionFor(
  check: Pick<CheckResult, 'check'>,
  failing: Pick<CheckResult, 'check'>[],
  inventory: Inventory,
): string | undefined {
  const name = /^service:(.+)$/.exec(check.check)?.[1];
  if (!name || name === 'backend') return remediationForCheck(check.check);
  const service = inventory.stack.services.find((s) => s.name === name);
  if (!service) return remediationForCheck(check.check);
  const criticalDown = failing.filter((c) => {
    const other = /^service:(.+)$/.exec(c.check)?.[1];
    return other && inventory.stack.services.find((s) => s.name === other)?.critical !== false;
  }).length;
  return criticalDown > 1 ? 'emergency.outage' : 'service.restart';
}

/**
 * Whether every failing check of the "services" item is a service the inventory marks
 * non-critical: then it is a P3 matter (service.restart), not the item's P1 "System down".
 */
export function onlyNonCriticalDown(failing: Pick<CheckResult, 'check'>[], inventory: Inventory): boolean {
  return (
    failing.length > 0 &&
    failing.every((c) => {
      const name = /^service:(.+)$/.exec(c.check)?.[1];
      return name !== undefined && inventory.stack.services.find((s) => s.name === name)?.critical === false;
    })
  );
}
