import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { DataSource } from 'typeorm';
import { ENTITIES } from '../src/app.entities';
import { ensureDatabase } from '../src/infra/database/ensure-database';
import { migrate } from '../src/infra/database/migrator';
import { createTestDatabase, dbUrl, dropTestDatabase, TEST_DB_PREFIX, withClient } from './helpers/db';

describe('own database: migrations and entities agree', () => {
  let database: string;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => dropTestDatabase(database));

  it('has no drift: TypeORM would change nothing on a migrated database', async () => {
    const ds = new DataSource({ type: 'postgres', url: dbUrl(database), entities: ENTITIES, synchronize: false });
    await ds.initialize();
    try {
      const pending = await ds.driver.createSchemaBuilder().log();
      const statements = pending.upQueries.map((q) => q.query);
      expect(statements).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });

  it('re-running migrations applies nothing, and a changed applied migration is refused', async () => {
    const again = await migrate(dbUrl(database));
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBeGreaterThan(0);
    await withClient(database, (c) =>
      c.query("UPDATE ops_schema_migrations SET checksum = repeat('0', 64) WHERE name = '0001_foundation.sql'"),
    );
    await expect(migrate(dbUrl(database))).rejects.toThrow(/0001_foundation.sql was changed after it was applied/);
  });

  it('creates the database when it is missing', async () => {
    const name = `${TEST_DB_PREFIX}fresh${Date.now() % 100000}`;
    try {
      expect(await ensureDatabase(dbUrl(name))).toBe(true);
      expect(await ensureDatabase(dbUrl(name))).toBe(false);
    } finally {
      await dropTestDatabase(name);
    }
  });
});
