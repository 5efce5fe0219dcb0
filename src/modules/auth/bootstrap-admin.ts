import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppConfig } from '../../config/app-config';
import { Role } from '../../common/rights';
import { UsersService } from './users.service';

export interface BootstrapResult {
  created: boolean;
  username?: string;
  passwordFile?: string;
}

/**
 * First start: when no user exists, create the first admin. Its password comes from
 * OPS_BOOTSTRAP_ADMIN_PASSWORD or is generated and written to a file readable only by
 * the owner (never to the log).
 */
export async function bootstrapFirstAdmin(users: UsersService, config: AppConfig): Promise<BootstrapResult> {
  if ((await users.count()) > 0) return { created: false };
  const username = config.OPS_BOOTSTRAP_ADMIN_USERNAME;
  let password = config.OPS_BOOTSTRAP_ADMIN_PASSWORD;
  let passwordFile: string | undefined;
  if (!password) {
    password = randomBytes(18).toString('base64url');
    passwordFile = resolve(config.OPS_BOOTSTRAP_PASSWORD_FILE);
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  try {
    await users.create({ username, password, role: Role.Admin });
  } catch (error) {
    if ((error as { code?: string }).code === 'CONFLICT') return { created: false };
    throw error;
  }
  return { created: true, username, passwordFile };
}
