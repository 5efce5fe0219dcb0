import { DomainError, ErrorCode } from '../common/errors';
import { Identity, RESERVED_USERNAMES } from '../common/request-context';
import { escalationOf } from '../config/escalation';
import { Inventory, Severity } from '../config/inventory.schema';
import { Domain, mayApprove, roleHasLevel, ROLES } from '../common/rights';
import { ProcedureDefinition } from './procedure';
import { RunEntity } from './run.entity';

/*
 * Who may do what with a run: pure decisions over the run, the identity and the inventory's
 * escalation matrix. Every refusal is a 403 naming the rule and whom to escalate to.
 */

/** Refuses a role below the procedure's level with 403 naming whom to escalate to. */
export function assertMayRun(definition: ProcedureDefinition, severity: Severity, identity: Identity, inventory: Inventory): void {
  if (roleHasLevel(identity.role, severity, definition.domain)) return;
  const level = escalationOf(inventory, severity, definition.situation);
  const roles = ROLES.filter((r) => roleHasLevel(r, severity, definition.domain));
  const why =
    severity === definition.severity
      ? `it is a ${severity} ${definition.domain} procedure`
      : `with these parameters it is a ${severity} ${definition.domain} action (the procedure is ${definition.severity} otherwise)`;
  throw new DomainError(
    ErrorCode.Forbidden,
    `${identity.role} may not run ${definition.id}: ${why}; escalate to ${level.contacts.join(', ')}`,
    {
      procedure: definition.id,
      level: severity,
      domain: definition.domain,
      yourRole: identity.role,
      rolesWithRight: roles,
      escalateTo: level.contacts,
      ...(level.situation ? { situation: level.situation } : {}),
      responseMinutes: level.responseMinutes,
    },
  );
}

/** Whether the run was requested by this person (through any of their identities: sign-in or API tokens). */
export function isRequester(run: RunEntity, identity: Identity): boolean {
  if (run.requestedById) return identity.userId === run.requestedById;
  // The scheduler's runs have no person behind them; runs stored before people were
  // tracked by id compare names (reserved names are never a person's).
  if (!identity.userId || RESERVED_USERNAMES.includes(run.requestedBy)) return false;
  return run.requestedBy === identity.username;
}

/**
 * Approve or reject needs a person (not a service identity or the system), not the requester
 * under any of their identities (a token counts as its owner), of the complementary role.
 */
export function assertMayDecide(run: RunEntity, identity: Identity, verb: 'approve' | 'reject'): void {
  if (!identity.userId || identity.role === 'service') {
    throw new DomainError(
      ErrorCode.Forbidden,
      `a ${identity.kind} identity (${identity.username}) cannot ${verb} runs: a second person must`,
      {
        yourKind: identity.kind,
      },
    );
  }
  if (isRequester(run, identity)) {
    const via = identity.token ? ` and acts here through the API token ${identity.token.name}` : '';
    throw new DomainError(
      ErrorCode.Forbidden,
      `a second, different person must ${verb} this run (two-person rule); ${identity.username} requested it${via}`,
      { requestedBy: run.requestedBy },
    );
  }
  if (!mayApprove(run.requestedRole as never, identity.role)) {
    const needed = ROLES.filter((r) => mayApprove(run.requestedRole as never, r) && r !== 'admin');
    throw new DomainError(
      ErrorCode.Forbidden,
      `a request by a ${run.requestedRole} is approved or rejected by the complementary role: ${needed.join(' or ')}`,
      { requestedRole: run.requestedRole, approverRoles: needed, yourRole: identity.role },
    );
  }
}

/**
 * Who may cancel: the person who requested the run (any of their identities), or anyone
 * holding the run's own level in its procedure's domain (cancelling a P1 restore is as
 * consequential as starting one). Service identities never.
 */
export function assertMayCancel(run: RunEntity, domain: Domain, identity: Identity, inventory: Inventory): void {
  if (identity.role !== 'service' && isRequester(run, identity)) return;
  const severity = run.severity as Severity;
  if (identity.role !== 'service' && roleHasLevel(identity.role, severity, domain)) return;
  const level = inventory.escalation[severity];
  const who = identity.role === 'service' ? `the service identity ${identity.username}` : identity.role;
  throw new DomainError(
    ErrorCode.Forbidden,
    `${who} may not cancel run ${run.id}: it is a ${severity} ${domain} run requested by ${run.requestedBy}; its requester or a role with ${severity} ${domain} rights may cancel it; escalate to ${level.contacts.join(', ')}`,
    {
      level: severity,
      domain,
      yourRole: identity.role,
      rolesWithRight: ROLES.filter((r) => roleHasLevel(r, severity, domain)),
      requestedBy: run.requestedBy,
      escalateTo: level.contacts,
      responseMinutes: level.responseMinutes,
    },
  );
}
