/**
 * Runbook "Issue 1: Database Connection Pool Exhausted": count the connections, end the ERP
 * database's idle sessions when above the threshold, restart the backend (its pool), and
 * verify. Each step is a named object callable alone; `poolSurvey` is the pure decision.
 */
import { z } from 'zod';
import { Inventory } from '../../../config/inventory.schema';
import { ConnectionCounts, DbSession } from '../../../integrations/contracts';
import { amount, flag, wholeNumber } from '../../../procedures/parameters';
import { defineProcedure, defineStep, EscalationError, ProcedureDefinition, StepContext } from '../../../procedures/procedure';
import { containerOf, waitBackendHealthy } from '../../../procedures/stack-steps';
import { RemediationDeps } from '../remediation-deps';

const IDLE_STATES = new Set(['idle', 'idle in transaction', 'idle in transaction (aborted)']);
const SQL_CALL = { timeoutMs: 15_000 };
/** PostgreSQL's own ceiling of max_connections. */
const MAX_CONNECTIONS = 262_143;

export const poolParameters = z
  .object({
    /** Sessions idle at least this long are ended; default the inventory's remediations.idleConnectionMinutes. */
    idleMinutes: amount('minutes', 0, 1440, 30).optional(),
    /** Above this many connections to the ERP database, idle sessions are ended; default thresholds.dbConnections.fail. */
    threshold: wholeNumber('connections', 1, MAX_CONNECTIONS, 150).optional(),
    force: flag().default(false),
    restartBackend: flag().default(true),
  })
  .strict();
export type PoolParameters = z.infer<typeof poolParameters>;
type Ctx = StepContext<PoolParameters>;

/** The adapters the steps use (the inventory comes with the step's context). */
export type PoolDeps = Pick<RemediationDeps, 'targetDb' | 'docker' | 'http'>;

const erpDatabase = (inventory: Inventory) => new URL(inventory.erpDatabase.url).pathname.replace(/^\//, '');
const idleMinutesOf = (p: PoolParameters, inventory: Inventory) => p.idleMinutes ?? inventory.remediations.idleConnectionMinutes;
const thresholdOf = (p: PoolParameters, inventory: Inventory) => p.threshold ?? inventory.thresholds.dbConnections.fail;

const describe = (s: DbSession) => ({
  pid: s.pid,
  user: s.user,
  application: s.application,
  clientAddr: s.clientAddr,
  state: s.state,
  idleSeconds: s.stateSeconds,
});

/**
 * What the run would end and why: client sessions of the ERP database idle longer than the
 * limit, never the control plane's own (erp-ops*), and only above the threshold (or forced).
 */
export function poolSurvey(counts: ConnectionCounts, sessions: DbSession[], p: PoolParameters, inventory: Inventory) {
  const [database, limit, idleMinutes] = [erpDatabase(inventory), thresholdOf(p, inventory), idleMinutesOf(p, inventory)];
  const ours = counts.byDatabase.find((d) => d.database === database)?.count ?? 0;
  const targets = sessions.filter(
    (s) =>
      s.backendType === 'client backend' &&
      s.state !== null &&
      IDLE_STATES.has(s.state) &&
      s.stateSeconds >= idleMinutes * 60 &&
      !s.application.startsWith('erp-ops'),
  );
  const above = ours > limit;
  return {
    connections: { database, count: ours, total: counts.total, max: counts.max, byDatabase: counts.byDatabase, threshold: limit },
    idleMinutes,
    willTerminate: above || p.force,
    reason: above
      ? `${ours} connections to ${database} > ${limit}`
      : p.force
        ? `forced (${ours} ≤ ${limit})`
        : `${ours} connections to ${database} ≤ ${limit}: nothing to terminate (force: true to do it anyway)`,
    targets: targets.map(describe),
    spared: sessions.filter((s) => !targets.includes(s)).length,
  };
}

async function survey({ targetDb }: Pick<PoolDeps, 'targetDb'>, ctx: Ctx) {
  const counts = await targetDb.connectionCounts(SQL_CALL);
  const sessions = await targetDb.sessions(SQL_CALL);
  return poolSurvey(counts, sessions, ctx.parameters, ctx.inventory);
}

export const connectionsStep = (deps: Pick<PoolDeps, 'targetDb'>) =>
  defineStep<PoolParameters>({
    id: 'connections',
    title: 'Connections per database, and the idle sessions of the ERP database',
    timeoutMs: 30_000,
    plan: (ctx) => survey(deps, ctx),
    run: (ctx) => survey(deps, ctx),
  });

export const terminateStep = (deps: Pick<PoolDeps, 'targetDb'>) =>
  defineStep<PoolParameters>({
    id: 'terminate',
    title: 'Terminate idle sessions (pg_terminate_backend) when above the threshold',
    timeoutMs: 60_000,
    plan: async (ctx) => {
      const s = await survey(deps, ctx);
      return {
        wouldTerminate: s.willTerminate ? s.targets : [],
        reason: s.reason,
        never: "the control plane's own sessions, replication and autovacuum workers, other databases",
      };
    },
    run: async (ctx) => {
      const s = await survey(deps, ctx);
      if (!s.willTerminate) return { terminated: [], reason: s.reason };
      // Compared with the database's own timestamps (state_change): wall-clock time, not the injectable clock.
      const idleBefore = new Date(Date.now() - s.idleMinutes * 60_000);
      const pids = s.targets.map((t) => t.pid);
      const ended = await deps.targetDb.terminateIdle(pids, idleBefore, SQL_CALL);
      return { terminated: ended, count: ended.length, spared: pids.filter((pid) => !ended.includes(pid)), reason: s.reason };
    },
  });

export const restartBackendStep = ({ docker }: Pick<PoolDeps, 'docker'>) =>
  defineStep<PoolParameters>({
    id: 'restart-backend',
    title: 'Restart the backend container (resets its pool)',
    timeoutMs: 120_000,
    plan: async (ctx) => ({ container: containerOf(ctx.inventory, 'backend'), restart: ctx.parameters.restartBackend }),
    run: async (ctx) => {
      if (!ctx.parameters.restartBackend) return { restarted: false };
      const container = containerOf(ctx.inventory, 'backend');
      await docker.restartContainer(container, { timeoutMs: 60_000, graceSeconds: 10 });
      return { restarted: true, container };
    },
  });

export const verifyStep = (deps: PoolDeps, inventory: Inventory) =>
  defineStep<PoolParameters>({
    id: 'verify',
    title: 'Backend healthy and the connection count below the threshold',
    timeoutMs: (inventory.backups.backendHealthySeconds + 30) * 1000,
    plan: async (ctx) => ({ healthUrl: ctx.inventory.urls.backendHealth, threshold: thresholdOf(ctx.parameters, ctx.inventory) }),
    run: async (ctx) => {
      const [database, threshold] = [erpDatabase(ctx.inventory), thresholdOf(ctx.parameters, ctx.inventory)];
      const backend = await waitBackendHealthy(ctx.inventory, deps.docker, deps.http, ctx.signal);
      const counts = await deps.targetDb.connectionCounts(SQL_CALL);
      const count = counts.byDatabase.find((d) => d.database === database)?.count ?? 0;
      if (count > threshold) {
        const sessions = await deps.targetDb.sessions(SQL_CALL).catch(() => []);
        throw new EscalationError(
          `the issue persists: ${count} connections to ${database} after the clean-up (threshold ${threshold}); the busy sessions are not idle: escalate to the Senior Developer`,
          { count, threshold, sessions: sessions.slice(0, 50).map(describe) },
          'P2',
        );
      }
      return { backend, connections: count, threshold };
    },
  });

export function connectionPoolProcedure(deps: PoolDeps & Pick<RemediationDeps, 'inventory'>): ProcedureDefinition<PoolParameters> {
  return defineProcedure<PoolParameters>({
    id: 'db.connection-pool-exhausted',
    title: 'Database connection pool exhausted: end idle sessions, restart the backend',
    severity: 'P2',
    domain: 'database',
    parameters: poolParameters,
    locks: () => ['erp:connections', 'erp:backend'],
    requiresApproval: false,
    steps: [connectionsStep(deps), terminateStep(deps), restartBackendStep(deps), verifyStep(deps, deps.inventory)],
  });
}
