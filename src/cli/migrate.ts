import { fail, loadForCli, prepareDatabase } from './bootstrap-cli';

/** npm run migrate: create the database when missing and apply pending migrations. */
prepareDatabase(loadForCli().config, (line) => process.stdout.write(`${line}\n`)).catch(fail);
