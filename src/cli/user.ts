import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { INestApplication } from '@nestjs/common';
import { createApp } from '../app.factory';
import { createLogger } from '../common/logger';
import { parseCidr } from '../common/addresses';
import { isRole, ROLES } from '../common/rights';
import { AuthService } from '../modules/auth/auth.service';
import { UserEntity } from '../modules/auth/entities/user.entity';
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

/** The parsed command line, validated before the application starts. */
interface UserArgs {
  command: string;
  username?: string;
  address?: string;
  role?: string;
  passwordStdin: boolean;
}

function parseUserArgs(): UserArgs {
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
  const { username, address, role } = values;
  return { command, username, address, role, passwordStdin: values['password-stdin'] === true };
}

/** What a subcommand works with: the services of the started application and the arguments. */
class UserCommand {
  readonly users: UsersService;
  readonly auth: AuthService;

  constructor(
    app: INestApplication,
    readonly args: UserArgs,
  ) {
    this.users = app.get(UsersService);
    this.auth = app.get(AuthService);
  }

  async password(): Promise<string> {
    return this.args.passwordStdin ? readStdin() : randomBytes(18).toString('base64url');
  }

  async find(): Promise<UserEntity> {
    const user = await this.users.findByUsername(this.args.username!);
    if (!user) throw new Error(`no user ${this.args.username}`);
    return user;
  }

  print(line: string): void {
    process.stdout.write(`${line}\n`);
  }
}

const COMMANDS: Record<string, (c: UserCommand) => Promise<void>> = {
  async create(c) {
    const pw = await c.password();
    const user = await c.users.create({ username: c.args.username!, password: pw, role: c.args.role as never });
    c.print(`created ${user.username} (${user.role})`);
    if (!c.args.passwordStdin) c.print(`password (shown once): ${pw}`);
  },
  async 'set-role'(c) {
    await c.users.update((await c.find()).id, { role: c.args.role as never });
    c.print(`${c.args.username} is now ${c.args.role}`);
  },
  async disable(c) {
    await c.users.update((await c.find()).id, { disabled: true });
    c.print(`${c.args.username} disabled`);
  },
  async enable(c) {
    await c.users.update((await c.find()).id, { disabled: false });
    c.print(`${c.args.username} enabled`);
  },
  async 'reset-password'(c) {
    const pw = await c.password();
    await c.users.update((await c.find()).id, { password: pw });
    c.print(`password of ${c.args.username} reset`);
    if (!c.args.passwordStdin) c.print(`new password (shown once): ${pw}`);
  },
  async unlock(c) {
    if (c.args.address) {
      await c.auth.unblockAddress(c.args.address);
      c.print(`${c.args.address} may sign in again`);
    }
    if (c.args.username) {
      await c.auth.unlock((await c.find()).username);
      c.print(`${c.args.username} unlocked`);
    }
  },
  async list(c) {
    let cursor: string | undefined;
    do {
      const page = await c.users.list(200, cursor);
      for (const u of page.items) c.print(`${u.username.padEnd(32)} ${u.role.padEnd(11)} ${u.disabled ? 'disabled' : 'active'}`);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  },
};

async function main(): Promise<void> {
  const args = parseUserArgs();
  const run = Object.hasOwn(COMMANDS, args.command) ? COMMANDS[args.command] : undefined;
  if (!run) throw new Error(`unknown command ${args.command}\n${USAGE}`);
  const { config, loaded } = loadForCli();
  await prepareDatabase(config);
  const app = await createApp({ config, inventory: loaded.inventory, inventoryFile: loaded.file, logger: createLogger('warn') });
  try {
    await run(new UserCommand(app, args));
  } finally {
    await app.close();
  }
}

main().catch(fail);
