import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../app.factory';
import { createLogger } from '../common/logger';
import { projectRoot } from '../common/paths';
import { graphqlSchema, openApiDocument, OPENAPI_FILE, SCHEMA_FILE } from './api-contracts';
import { fail, loadForCli, prepareDatabase } from './bootstrap-cli';

/** npm run generate: writes openapi.json and schema.gql from the code. */
async function main(): Promise<void> {
  const { config, loaded } = loadForCli();
  await prepareDatabase(config);
  const app = await createApp({ config, inventory: loaded.inventory, inventoryFile: loaded.file, logger: createLogger('warn') });
  try {
    writeFileSync(join(projectRoot(), OPENAPI_FILE), openApiDocument(app));
    writeFileSync(join(projectRoot(), SCHEMA_FILE), graphqlSchema(app));
    process.stdout.write(`wrote ${OPENAPI_FILE} and ${SCHEMA_FILE}\n`);
  } finally {
    await app.close();
  }
}

main().catch(fail);
