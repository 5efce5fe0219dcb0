import { Inventory } from '../../../config/inventory.schema';
import { IntegrationError } from '../../../integrations/integration-error';
import { TargetDatabasePort } from '../../../integrations/contracts';
import { bandVerdict, CheckDefinition, singleCheck } from '../check';

const UNREACHABLE_NEXT = 'check erp-postgres (docker-compose ps postgres; pg_isready); see Emergency Procedures: System Complete Outage';
const CORRUPTION_NEXT = 'see Emergency Procedures: Data Corruption Detected (stop writes, back up, restore from a clean backup)';

/** Runbook step 4: connect, list tables, count the products, connection count against the threshold. */
export function databaseChecks(inventory: Inventory, db: TargetDatabasePort): CheckDefinition[] {
  const table = inventory.erpDatabase.countTable;
  const { warn, fail, max } = inventory.thresholds.dbConnections;
  return [
    singleCheck(
      {
        id: 'db:connect',
        title: 'the ERP database accepts connections (pg_isready)',
        timeoutMs: 2000,
        expected: 'accepting connections',
        nextStep: UNREACHABLE_NEXT,
      },
      async (ctx) => {
        const { serverVersion, latencyMs } = await db.ping(ctx);
        return { verdict: 'pass', observed: `accepting connections (PostgreSQL ${serverVersion}, ${latencyMs} ms)` };
      },
    ),
    singleCheck(
      {
        id: 'db:tables',
        title: 'tables present (\\dt)',
        timeoutMs: 2000,
        expected: `all tables present, including ${table}`,
        nextStep: UNREACHABLE_NEXT,
      },
      async (ctx) => {
        const tables = await db.listTables(ctx);
        const ok = tables.length > 0 && tables.includes(table);
        return {
          verdict: ok ? 'pass' : 'fail',
          observed: `${tables.length} tables${tables.includes(table) ? '' : `, ${table} missing`}`,
          nextStep: CORRUPTION_NEXT,
        };
      },
    ),
    singleCheck(
      {
        id: `db:count:${table}`,
        title: `SELECT count(*) FROM ${table}`,
        timeoutMs: 3000,
        expected: 'a row count (data visible)',
        nextStep: UNREACHABLE_NEXT,
        nextStepOnError: (error) =>
          error instanceof IntegrationError && error.failure === 'bad_response' ? CORRUPTION_NEXT : UNREACHABLE_NEXT,
      },
      async (ctx) => {
        const rows = await db.countRows(table, ctx);
        return {
          verdict: rows > 0 ? 'pass' : 'warn',
          observed: `${rows} rows`,
          nextStep: `${table} is empty: verify the data (Emergency Procedures: Data Corruption Detected)`,
        };
      },
    ),
    singleCheck(
      {
        id: 'db:connections',
        title: `database connections below ${fail} of ${max}`,
        timeoutMs: 2000,
        expected: `< ${fail} (warn at ${warn})`,
        nextStep: 'see Common Issues: Issue 1 (Database Connection Pool Exhausted): procedure db.connection-pool-exhausted',
        nextStepOnError: () => UNREACHABLE_NEXT,
      },
      async (ctx) => {
        const counts = await db.connectionCounts(ctx);
        const top = counts.byDatabase
          .slice()
          .sort((a, b) => b.count - a.count)
          .slice(0, 3)
          .map((d) => `${d.database} ${d.count}`)
          .join(', ');
        return {
          verdict: bandVerdict(counts.total, { warn, fail }),
          observed: `${counts.total} of ${counts.max} (${top})`,
          details: { byDatabase: counts.byDatabase, max: counts.max },
        };
      },
    ),
  ];
}
