import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createApp } from '../app.factory';
import { createLogger } from '../common/logger';
import { parseCidr } from '../common/addresses';
import { isRole, ROLES } from '../common/rights';
import { AuthService } from '../modules/auth/auth.service';
import { UsersService } from '../modules/auth/users.service';
import { fail, loadForCli, prepareDatabase } from './bootstrap-cli';

const USAGE = `usage:
  npm run user -- create --username NAME --role ROLE [--password-stdin]
  npm run user -- set-role --username NAME --role ROLE
  npm run user -- disable --username NAME
  npm run user -- enable --username NAME
  npm run user -- reset-password --username NAME [--password-stdin]
  npm run user -- unlock --username NAME     (every lock of the account, for every address)
  npm run user -- unlock --address IP        (a client address blocked after failed sign-ins)
  npm run user -- list
roles: ${ROLES.join(', ')}
Without --password-stdin a random password is generated and printed once.`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      username: { type: 'string' },
      address: { type: 'string' },
      role: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(command ? 0 : 64);
  }
  const needsUser = command !== 'list' && !(command === 'unlock' && values.address);
  if (values.address !== undefined && parseCidr(values.address)?.prefix !== (values.address.includes(':') ? 128 : 32))
    throw new Error(`--address must be one IP address, for example 10.0.0.5\n${USAGE}`);
  if (needsUser && !values.username) throw new Error(`--username is required\n${USAGE}`);
  if ((command === 'create' || command === 'set-role') && !isRole(values.role))
    throw new Error(`--role must be one of ${ROLES.join(', ')}`);

  const { config, loaded } = loadForCli();
  await prepareDatabase(config);
  const app = await createApp({ config, inventory: loaded.inventory, inventoryFile: loaded.file, logger: createLogger('warn') });
  try {
    const users = app.get(UsersService);
    const password = async () => (values['password-stdin'] ? readStdin() : randomBytes(18).toString('base64url'));
    const find = async () => {
      const user = await users.findByUsername(values.username!);
      if (!user) throw new Error(`no user ${values.username}`);
      return user;
    };
    switch (command) {
      case 'create': {
        const pw = await password();
        const user = await users.create({ username: values.username!, password: pw, role: values.role as never });
        process.stdout.write(`created ${user.username} (${user.role})\n`);
        if (!values['password-stdin']) process.stdout.write(`password (shown once): ${pw}\n`);
        break;
      }
      case 'set-role':
        await users.update((await find()).id, { role: values.role as never });
        process.stdout.write(`${values.username} is now ${values.role}\n`);
        break;
      case 'disable':
      case 'enable':
        await users.update((await find()).id, { disabled: command === 'disable' });
        process.stdout.write(`${values.username} ${command}d\n`);
        break;
      case 'reset-password': {
        const pw = await password();
        await users.update((await find()).id, { password: pw });
        process.stdout.write(`password of ${values.username} reset\n`);
        if (!values['password-stdin']) process.stdout.write(`new password (shown once): ${pw}\n`);
        break;
      }
      case 'unlock':
        if (values.address) {
          await app.get(AuthService).unblockAddress(values.address);
          process.stdout.write(`${values.address} may sign in again\n`);
        }
        if (values.username) {
          await app.get(AuthService).unlock((await find()).username);
          process.stdout.write(`${values.username} unlocked\n`);
        }
        break;
      case 'list': {
        let cursor: string | undefined;
        do {
          const page = await users.list(200, cursor);
          for (const u of page.items)
            process.stdout.write(`${u.username.padEnd(32)} ${u.role.padEnd(11)} ${u.disabled ? 'disabled' : 'active'}\n`);
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        break;
      }
      default:
        throw new Error(`unknown command ${command}\n${USAGE}`);
    }
  } finally {
    await app.close();
  }
}

main().catch(fail);
