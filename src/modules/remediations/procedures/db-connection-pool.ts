import { z } from 'zod';
import { DbSession } from '../../../integrations/contracts';
import { EscalationError, ProcedureDefinition } from '../../../procedures/procedure';
import { containerOf, waitBackendHealthy } from '../../../procedures/stack-steps';
import { RemediationDeps } from '../remediation-deps';

const IDLE_STATES = new Set(['idle', 'idle in transaction', 'idle in transaction (aborted)']);
const SQL_CALL = { timeoutMs: 15_000 };
/** PostgreSQL's own ceiling of max_connections. */
const MAX_CONNECTIONS = 262_143;
const THRESHOLD_MESSAGE = `must be a whole number of connections from 1 to ${MAX_CONNECTIONS}, for example 150`;

export const poolParameters = z
  .object({
    idleMinutes: z
      .number({ error: 'must be a number of minutes ≥ 0, for example 30' })
      .min(0, { error: 'must be a number of minutes ≥ 0, for example 30' })
      .max(1440, { error: 'must be at most 1440 minutes (a day)' })
      .optional(),
    threshold: z
      .number({ error: THRESHOLD_MESSAGE })
      .int({ error: THRESHOLD_MESSAGE })
      .min(1, { error: THRESHOLD_MESSAGE })
      .max(MAX_CONNECTIONS, { error: THRESHOLD_MESSAGE })
      .optional(),
    force: z.boolean({ error: 'must be true or false' }).default(false),
    restartBackend: z.boolean({ error: 'must be true or false' }).default(true),
  })
  .strict();
type Params = z.infer<typeof poolParameters>;

/** Runbook "Issue 1: Database Connection Pool Exhausted". */
export function connectionPoolProcedure({ inventory, targetDb, docker, http }: RemediationDeps): ProcedureDefinition<Params> {
  const database = new URL(inventory.erpDatabase.url).pathname.replace(/^\//, '');
  const idleMinutes = (p: Params) => p.idleMinutes ?? inventory.remediations.idleConnectionMinutes;
  const threshold = (p: Params) => p.threshold ?? inventory.thresholds.dbConnections.fail;

  /** The sessions the run would end: client sessions of the ERP database, idle longer than the limit, not ours. */
  const candidates = (sessions: DbSession[], p: Params) =>
    sessions.filter(
      (s) =>
        s.backendType === 'client backend' &&
        s.state !== null &&
        IDLE_STATES.has(s.state) &&
        s.stateSeconds >= idleMinutes(p) * 60 &&
        !s.application.startsWith('erp-ops'),
    );
  const describe = (s: DbSession) => ({
    pid: s.pid,
    user: s.user,
    application: s.application,
    clientAddr: s.clientAddr,
    state: s.state,
    idleSeconds: s.stateSeconds,
  });

  const survey = async (p: Params) => {
    const counts = await targetDb.connectionCounts(SQL_CALL);
    const sessions = await targetDb.sessions(SQL_CALL);
    const ours = counts.byDatabase.find((d) => d.database === database)?.count ?? 0;
    const targets = candidates(sessions, p);
    const above = ours > threshold(p);
    return {
      connections: { database, count: ours, total: counts.total, max: counts.max, byDatabase: counts.byDatabase, threshold: threshold(p) },
      idleMinutes: idleMinutes(p),
      willTerminate: above || p.force,
      reason: above
        ? `${ours} connections to ${database} > ${threshold(p)}`
        : p.force
          ? `forced (${ours} ≤ ${threshold(p)})`
          : `${ours} connections to ${database} ≤ ${threshold(p)}: nothing to terminate (force: true to do it anyway)`,
      targets: targets.map(describe),
      spared: sessions.filter((s) => !targets.includes(s)).length,
    };
  };

  return {
    id: 'db.connection-pool-exhausted',
    title: 'Database connection pool exhausted: end idle sessions, restart the backend',
    severity: 'P2',
    domain: 'database',
    parameters: poolParameters,
    locks: () => ['erp:connections', 'erp:backend'],
    requiresApproval: false,
    steps: [
      {
        id: 'connections',
        title: 'Connections per database, and the idle sessions of the ERP database',
        timeoutMs: 30_000,
        plan: (ctx) => survey(ctx.parameters),
        run: (ctx) => survey(ctx.parameters),
      },
      {
        id: 'terminate',
        title: 'Terminate idle sessions (pg_terminate_backend) when above the threshold',
        timeoutMs: 60_000,
        plan: async (ctx) => {
          const s = await survey(ctx.parameters);
          return {
            wouldTerminate: s.willTerminate ? s.targets : [],
            reason: s.reason,
            never: "the control plane's own sessions, replication and autovacuum workers, other databases",
          };
        },
        run: async (ctx) => {
          const s = await survey(ctx.parameters);
          if (!s.willTerminate) return { terminated: [], reason: s.reason };
          const idleBefore = new Date(Date.now() - idleMinutes(ctx.parameters) * 60_000);
          const ended = await targetDb.terminateIdle(
            s.targets.map((t) => t.pid),
            idleBefore,
            SQL_CALL,
          );
          return {
            terminated: ended,
            count: ended.length,
            spared: s.targets.filter((t) => !ended.includes(t.pid)).map((t) => t.pid),
            reason: s.reason,
          };
        },
      },
      {
        id: 'restart-backend',
        title: 'Restart the backend container (resets its pool)',
        timeoutMs: 120_000,
        plan: async (ctx) => ({ container: containerOf(inventory, 'backend'), restart: ctx.parameters.restartBackend }),
        run: async (ctx) => {
          if (!ctx.parameters.restartBackend) return { restarted: false };
          const container = containerOf(inventory, 'backend');
          await docker.restartContainer(container, { timeoutMs: 60_000, graceSeconds: 10 });
          return { restarted: true, container };
        },
      },
      {
        id: 'verify',
        title: 'Backend healthy and the connection count below the threshold',
        timeoutMs: (inventory.backups.backendHealthySeconds + 30) * 1000,
        plan: async (ctx) => ({ healthUrl: inventory.urls.backendHealth, threshold: threshold(ctx.parameters) }),
        run: async (ctx) => {
          const backend = await waitBackendHealthy(inventory, docker, http, ctx.signal);
          const counts = await targetDb.connectionCounts(SQL_CALL);
          const count = counts.byDatabase.find((d) => d.database === database)?.count ?? 0;
          if (count > threshold(ctx.parameters)) {
            const sessions = await targetDb.sessions(SQL_CALL).catch(() => []);
            throw new EscalationError(
              `the issue persists: ${count} connections to ${database} after the clean-up (threshold ${threshold(ctx.parameters)}); the busy sessions are not idle: escalate to the Senior Developer`,
              { count, threshold: threshold(ctx.parameters), sessions: sessions.slice(0, 50).map(describe) },
              'P2',
            );
          }
          return { backend, connections: count, threshold: threshold(ctx.parameters) };
        },
      },
    ],
  };
}
