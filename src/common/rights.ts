/**
 * Escalation rights: which role may exercise which right.
 *
 * A right has a level (read, P3, P2, P1, or admin) and, for actions, the domain it acts
 * on (system: containers, services, logs, alerts; database: the ERP database). The
 * default matrix follows the runbook's escalation table:
 *   viewer       reads only
 *   operator     up to P3                       (operations team)
 *   support      up to P3
 *   senior_dev   up to P1 on system, P2 on database (on-call senior developer)
 *   dba          up to P1 on database, P2 on system
 *   admin        every right, and manages users and API tokens
 * P1 actions that put data at risk additionally need a second, different person of the
 * complementary role (senior_dev + dba) to approve; the procedure runner enforces that.
 */
export enum Role {
  Viewer = 'viewer',
  Operator = 'operator',
  Support = 'support',
  SeniorDev = 'senior_dev',
  Dba = 'dba',
  Admin = 'admin',
}

export const ROLES: Role[] = [Role.Viewer, Role.Operator, Role.Support, Role.SeniorDev, Role.Dba, Role.Admin];

/** A principal's role: a person's role, or `service` for a service identity (which has scopes instead). */
export type PrincipalRole = Role | 'service';

export type Level = 'read' | 'P3' | 'P2' | 'P1' | 'admin';
export type Domain = 'system' | 'database';

const LEVEL_RANK: Record<Exclude<Level, 'admin'>, number> = { read: 0, P3: 1, P2: 2, P1: 3 };

export interface RightDefinition {
  level: Level;
  domain: Domain;
  description: string;
}

/** Every right the control plane knows, by dotted name. New features add theirs here. */
export const RIGHTS = {
  'auth.self': { level: 'read', domain: 'system', description: "See one's own identity" },
  'inventory.read': { level: 'read', domain: 'system', description: 'Read the inventory (secrets masked)' },
  'audit.read': { level: 'read', domain: 'system', description: 'Read and verify the audit trail' },
  'health.read': { level: 'read', domain: 'system', description: "Read the ERP stack's health and checklist history" },
  'checklist.run': { level: 'P3', domain: 'system', description: 'Run the daily startup checklist now' },
  'procedures.read': { level: 'read', domain: 'system', description: 'List procedures and read runs' },
  'procedures.run': {
    level: 'P3',
    domain: 'system',
    description: 'Request, approve and cancel procedure runs (each procedure checks its own level)',
  },
  'backups.read': { level: 'read', domain: 'database', description: 'Read the backup catalog (and files on disk it does not know)' },
  'backups.create': { level: 'P3', domain: 'database', description: 'Back up the ERP database now (backup.create)' },
  'backups.verify': { level: 'P3', domain: 'database', description: 'Verify a backup with a restore drill (backup.verify)' },
  'backups.delete': {
    level: 'P2',
    domain: 'database',
    description: 'Delete backups and apply retention (backup.delete, backup.retention)',
  },
  'backups.restore': {
    level: 'P1',
    domain: 'database',
    description: 'Request a restore of the ERP database (backup.restore; a second person approves)',
  },
  'alerts.read': { level: 'read', domain: 'system', description: 'Read firing alerts, silences and received alert notifications' },
  'metrics.read': {
    level: 'read',
    domain: 'system',
    description: "Scrape the control plane's Prometheus metrics (GET /metrics; a Prometheus service token)",
  },
  'alerts.receive': {
    level: 'P3',
    domain: 'system',
    description: 'Deliver Alertmanager webhook notifications (POST /api/v1/alerts/webhook)',
  },
  'incidents.read': { level: 'read', domain: 'system', description: 'Read incidents, their timelines and who is on call' },
  'incidents.respond': {
    level: 'P3',
    domain: 'system',
    description:
      'Open, acknowledge, resolve, reopen, escalate, assign and annotate incidents (acting on a Pn incident needs the right to act at Pn)',
  },
  'reports.read': { level: 'read', domain: 'system', description: 'Read stored performance reports (GET /admin/reports/performance)' },
  'reports.create': {
    level: 'P3',
    domain: 'system',
    description: "Generate a performance report from Prometheus and the control plane's records (report.performance.create)",
  },
  'reviews.read': { level: 'read', domain: 'system', description: 'Read the Daily Performance Reviews' },
  'reviews.create': { level: 'P3', domain: 'system', description: 'Generate the Daily Performance Review now' },
  'users.manage': { level: 'admin', domain: 'system', description: 'Create, change, disable and unlock users' },
  'tokens.own': {
    level: 'read',
    domain: 'system',
    description: "Create, list and revoke one's own API tokens (never with more rights than one's own role)",
  },
  'tokens.manage': { level: 'admin', domain: 'system', description: "List and revoke everyone's API tokens and create service identities" },
  'graphql.introspect': { level: 'read', domain: 'system', description: 'Read the GraphQL schema (introspection)' },
} as const satisfies Record<string, RightDefinition>;

export type RightName = keyof typeof RIGHTS;

export interface RoleRights {
  system: Exclude<Level, 'admin'>;
  database: Exclude<Level, 'admin'>;
  admin: boolean;
}

export const DEFAULT_MATRIX: Record<Role, RoleRights> = {
  [Role.Viewer]: { system: 'read', database: 'read', admin: false },
  [Role.Operator]: { system: 'P3', database: 'P3', admin: false },
  [Role.Support]: { system: 'P3', database: 'P3', admin: false },
  [Role.SeniorDev]: { system: 'P1', database: 'P2', admin: false },
  [Role.Dba]: { system: 'P2', database: 'P1', admin: false },
  [Role.Admin]: { system: 'P1', database: 'P1', admin: true },
};

/** Whether a role may exercise an action of this level on this domain (procedures use it). */
export function roleHasLevel(
  role: PrincipalRole,
  level: Exclude<Level, 'admin'>,
  domain: Domain,
  matrix: Record<Role, RoleRights> = DEFAULT_MATRIX,
): boolean {
  const granted = role === 'service' ? undefined : matrix[role];
  if (!granted) return false;
  return granted.admin || LEVEL_RANK[granted[domain]] >= LEVEL_RANK[level];
}

/** Who approves a two-person request: the complementary role of the runbook's "Senior Dev + DBA". */
export function mayApprove(requester: Role, approver: PrincipalRole): boolean {
  if (approver === 'service') return false;
  if (approver === Role.Admin) return true;
  if (requester === Role.Dba) return approver === Role.SeniorDev;
  if (requester === Role.SeniorDev) return approver === Role.Dba;
  return approver === Role.SeniorDev || approver === Role.Dba;
}

export function roleHasRight(role: PrincipalRole, right: RightName, matrix: Record<Role, RoleRights> = DEFAULT_MATRIX): boolean {
  const granted = role === 'service' ? undefined : matrix[role];
  if (!granted) return false;
  if (granted.admin) return true;
  const def = RIGHTS[right];
  if (def.level === 'admin') return false;
  return LEVEL_RANK[granted[def.domain]] >= LEVEL_RANK[def.level];
}

/** The rights a service identity can be given (it can never approve, request runs or manage anything). */
export const SERVICE_SCOPES = ['alerts.receive', 'metrics.read'] as const satisfies readonly RightName[];
export type ServiceScope = (typeof SERVICE_SCOPES)[number];

/** Whether a principal holds a right: its role's rights, or a service identity's scopes. */
export function principalHasRight(principal: { role: PrincipalRole; scopes?: readonly string[] }, right: RightName): boolean {
  if (principal.role === 'service') return (principal.scopes ?? []).includes(right);
  return roleHasRight(principal.role, right);
}

/**
 * Whether everything `granted` may do, `owner` may do as well (a token never carries more
 * rights than its owner): each domain's level at most the owner's, admin only for admins.
 */
export function roleCovers(owner: Role, granted: Role, matrix: Record<Role, RoleRights> = DEFAULT_MATRIX): boolean {
  const o = matrix[owner];
  const g = matrix[granted];
  if (!o || !g) return false;
  if (o.admin) return true;
  if (g.admin) return false;
  return LEVEL_RANK[g.system] <= LEVEL_RANK[o.system] && LEVEL_RANK[g.database] <= LEVEL_RANK[o.database];
}

/** The roles that hold a right, for error messages and the rights snapshot. */
export function rolesWithRight(right: RightName, matrix: Record<Role, RoleRights> = DEFAULT_MATRIX): Role[] {
  return ROLES.filter((role) => roleHasRight(role, right, matrix));
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as string[]).includes(value);
}
