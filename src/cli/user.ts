import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { INestApplication } from '@nestjs/common';
import { createApp } from '../app.factory';
import { createLogger } from '../common/logger';
import { parseCidr } from '../common/addresses';
import { isRole, ROLES, SERVICE_SCOPES } from '../common/rights';
import { AuditService } from '../audit/audit.service';
import { AuthService } from '../modules/auth/auth.service';
import { newApiToken, TOKEN_NAME_PATTERN, TokensService } from '../modules/auth/tokens.service';
import { UserEntity } from '../modules/auth/entities/user.entity';
import { UsersService } from '../modules/auth/users.service';
import { fail, loadForCli, prepareDatabase } from './bootstrap-cli';

const DEFAULT_SERVICE_TOKEN_DAYS = 90;

const USAGE = `usage:
  npm run user -- create --username NAME --role ROLE [--password-stdin]
  npm run user -- set-role --username NAME --role ROLE
  npm run user -- disable --username NAME
  npm run user -- enable --username NAME
  npm run user -- reset-password --username NAME [--password-stdin]
  npm run user -- unlock --username NAME     (every lock of the account, for every address)
  npm run user -- unlock --address IP        (a client address blocked after failed sign-ins)
  npm run user -- list
  npm run user -- service-token NAME --scopes SCOPE[,SCOPE] [--out FILE] [--days N]
roles: ${ROLES.join(', ')}
Without --password-stdin a random password is generated and printed once.
service-token: a new token for the service identity NAME (e.g. alertmanager), created if
missing; its earlier tokens are revoked. Scopes: ${SERVICE_SCOPES.join(', ')}. With --out the
token alone is written to FILE (mode 0600, replaced at once), otherwise printed once.
It expires after --days (1-365, default ${DEFAULT_SERVICE_TOKEN_DAYS}).`;

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
  service?: { name: string; scopes: string[]; out?: string; days: number };
}

/** Checks service-token's arguments; the file's directory must exist (nothing is made before the token is). */
function parseServiceArgs(name: string | undefined, values: { scopes?: string; out?: string; days?: string }): UserArgs['service'] {
  if (!name || !TOKEN_NAME_PATTERN.test(name))
    throw new Error(`service-token needs the service identity's NAME: 1-100 characters, letters, digits, space, _ . : -\n${USAGE}`);
  const scopes = [...new Set((values.scopes ?? '').split(',').map((s) => s.trim()))].filter(Boolean);
  const unknown = scopes.filter((s) => !(SERVICE_SCOPES as readonly string[]).includes(s));
  if (scopes.length === 0 || unknown.length)
    throw new Error(
      `--scopes must name only ${SERVICE_SCOPES.join(', ')} (comma-separated)${unknown.length ? `: ${unknown.join(', ')} is not a service scope` : ''}`,
    );
  const days = values.days === undefined ? DEFAULT_SERVICE_TOKEN_DAYS : Number(values.days);
  if (!/^\d+$/.test(values.days ?? '1') || days < 1 || days > 365) throw new Error('--days must be a whole number from 1 to 365');
  let out: string | undefined;
  if (values.out !== undefined) {
    out = resolve(values.out);
    const dir = statSync(dirname(out), { throwIfNoEntry: false });
    if (!dir?.isDirectory()) throw new Error(`--out ${values.out}: the directory ${dirname(out)} does not exist`);
    if (statSync(out, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--out ${values.out} is a directory; name the file`);
  }
  return { name, scopes, out, days };
}

function parseUserArgs(): UserArgs {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      username: { type: 'string' },
      address: { type: 'string' },
      role: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      scopes: { type: 'string' },
      out: { type: 'string' },
      days: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(command ? 0 : 64);
  }
  if (command === 'service-token') return { command, passwordStdin: false, service: parseServiceArgs(positionals[1], values) };
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
  readonly tokens: TokensService;
  readonly audit: AuditService;

  constructor(
    app: INestApplication,
    readonly args: UserArgs,
  ) {
    this.users = app.get(UsersService);
    this.auth = app.get(AuthService);
    this.tokens = app.get(TokensService);
    this.audit = app.get(AuditService);
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

/** Who acts from the command line, in the audit trail and as a token's creator: `cli:<OS user>`. */
function cliActor(): string {
  let who: string;
  try {
    who = userInfo().username;
  } catch {
    who = `uid${process.getuid?.() ?? '?'}`;
  }
  return `cli:${who}`.slice(0, 64);
}

/**
 * A secret file written in two steps: the value goes to a file of its own (mode 0600) next to
 * FILE first, and replaces FILE in one rename when the token is stored, so a reader
 * (Alertmanager re-reads it on every request) never sees half a token.
 */
function stageSecretFile(file: string, value: string): { commit(): void; discard(): void } {
  const staged = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(staged, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, value);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return {
    commit: () => renameSync(staged, file),
    discard: () => rmSync(staged, { force: true }),
  };
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
  async 'service-token'(c) {
    const { name, scopes, out, days } = c.args.service!;
    const by = cliActor();
    const token = newApiToken();
    const file = out ? stageSecretFile(out, token) : undefined;
    let rotated: Awaited<ReturnType<TokensService['rotateServiceToken']>>;
    try {
      rotated = await c.tokens.rotateServiceToken({ name, scopes, expiresInDays: days }, by, token, () => file?.commit());
    } catch (error) {
      file?.discard();
      throw error;
    }
    const { view, revoked } = rotated;
    await c.audit.recordSafely({
      actor: { username: by, role: null },
      action: 'tokens.rotate',
      target: `api-token:${view.id}`,
      parameters: { kind: 'service', name, scopes: view.scopes, expiresInDays: days, revoked, out: out ?? null },
      outcome: 'success',
    });
    c.print(
      `service identity ${name} (${view.scopes.join(', ')}): token ${view.id} (${view.prefix}…) expires ${view.expiresAt.toISOString()}; ${revoked.length} earlier token(s) revoked`,
    );
    if (out) c.print(`token written to ${out} (mode 0600)`);
    else c.print(`token (shown once): ${token}`);
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
  const { config: loadedConfig, loaded } = loadForCli();
  // A command serves no schedules: it must not become a worker that takes a due job and quits.
  const config = { ...loadedConfig, OPS_SCHEDULER: false, OPS_STATS_SAMPLER: false };
  await prepareDatabase(config);
  const app = await createApp({ config, inventory: loaded.inventory, inventoryFile: loaded.file, logger: createLogger('warn') });
  try {
    await run(new UserCommand(app, args));
  } finally {
    await app.close();
  }
}

main().catch(fail);
