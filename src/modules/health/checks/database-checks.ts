import { Inventory } from '../../../config/inventory.schema';
import { IntegrationError } from '../../../integrations/integration-error';
import { TargetDatabasePort } from '../../../integrations/contracts';
import { bandVerdict, CheckDefinition, describeFailure } from '../check';

const UNREACHABLE_NEXT = 'check erp-postgres (docker-compose ps postgres; pg_isready); see Emergency Procedures: System Complete Outage';

function failed(check: string, title: string, expected: string, error: unknown, nextStep = UNREACHABLE_NEXT) {
  const { verdict, observed } = describeFailure(error);
  return [{ check, title, verdict, observed, expected, nextStep }];
}

/** Runbook step 4: connect, list tables, count the products, connection count against the threshold. */
export function databaseChecks(inventory: Inventory, db: TargetDatabasePort): CheckDefinition[] {
  const table = inventory.erpDatabase.countTable;
  const { warn, fail, max } = inventory.thresholds.dbConnections;
  return [
    {
      id: 'db:connect',
      title: 'the ERP database accepts connections (pg_isready)',
      timeoutMs: 2000,
      async run(ctx) {
        const title = 'the ERP database accepts connections (pg_isready)';
        try {
          const { serverVersion, latencyMs } = await db.ping(ctx);
          return [{ check: 'db:connect', title, verdict: 'pass', observed: `accepting connections (PostgreSQL ${serverVersion}, ${latencyMs} ms)`, expected: 'accepting connections' }];
        } catch (error) {
          return failed('db:connect', title, 'accepting connections', error);
        }
      },
    },
    {
      id: 'db:tables',
      title: 'tables present (\\dt)',
      timeoutMs: 2000,
      async run(ctx) {
        const title = 'tables present (\\dt)';
        try {
          const tables = await db.listTables(ctx);
          const hasCountTable = tables.includes(table);
          return [
            {
              check: 'db:tables',
              title,
              verdict: tables.length > 0 && hasCountTable ? 'pass' : 'fail',
              observed: `${tables.length} tables${hasCountTable ? '' : `, ${table} missing`}`,
              expected: `all tables present, including ${table}`,
              ...(tables.length > 0 && hasCountTable ? {} : { nextStep: 'see Emergency Procedures: Data Corruption Detected (stop writes, back up, restore from a clean backup)' }),
            },
          ];
        } catch (error) {
          return failed('db:tables', title, 'all tables present', error);
        }
      },
    },
    {
      id: `db:count:${table}`,
      title: `SELECT count(*) FROM ${table}`,
      timeoutMs: 3000,
      async run(ctx) {
        const title = `SELECT count(*) FROM ${table}`;
        try {
          const rows = await db.countRows(table, ctx);
          return [{ check: `db:count:${table}`, title, verdict: rows > 0 ? 'pass' : 'warn', observed: `${rows} rows`, expected: 'a row count (data visible)', ...(rows > 0 ? {} : { nextStep: `${table} is empty: verify the data (Emergency Procedures: Data Corruption Detected)` }) }];
        } catch (error) {
          const missing = error instanceof IntegrationError && error.failure === 'bad_response';
          return failed(`db:count:${table}`, title, 'a row count (data visible)', error, missing ? 'see Emergency Procedures: Data Corruption Detected' : UNREACHABLE_NEXT);
        }
      },
    },
    {
      id: 'db:connections',
      title: `database connections below ${fail} of ${max}`,
      timeoutMs: 2000,
      async run(ctx) {
        const title = `database connections below ${fail} of ${max}`;
        try {
          const counts = await db.connectionCounts(ctx);
          const verdict = bandVerdict(counts.total, { warn, fail });
          const top = counts.byDatabase
            .slice()
            .sort((a, b) => b.count - a.count)
            .slice(0, 3)
            .map((d) => `${d.database} ${d.count}`)
            .join(', ');
          return [
            {
              check: 'db:connections',
              title,
              verdict,
              observed: `${counts.total} of ${counts.max} (${top})`,
              expected: `< ${fail} (warn at ${warn})`,
              details: { byDatabase: counts.byDatabase, max: counts.max },
              ...(verdict === 'pass' ? {} : { nextStep: 'see Common Issues: Issue 1 (Database Connection Pool Exhausted): procedure db.connection-pool-exhausted' }),
            },
          ];
        } catch (error) {
          return failed('db:connections', title, `< ${fail}`, error);
        }
      },
    },
  ];
}
