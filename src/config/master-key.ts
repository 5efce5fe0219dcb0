import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const MASTER_KEY = Symbol('MASTER_KEY');

/** What a derived key is for; each purpose gets its own key (HKDF-SHA256). */
export type KeyPurpose = 'audit-chain' | 'signing-keys' | 'incident-links';

const MIN_LENGTH = 32;

export class MasterKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

/**
 * The one secret the control plane keeps outside its database: from OPS_MASTER_KEY, or the
 * file OPS_MASTER_KEY_FILE (created with a random key, mode 0600, on the first start). Keys
 * for the audit chain's HMAC and for encrypting signing keys at rest are derived from it, so
 * a dump of the database alone can neither mint access tokens nor forge the audit trail.
 * Replicas share it (the same variable or file); losing it makes the audit entries written
 * with it unverifiable and ends every access token.
 */
export class MasterKey {
  private readonly derived = new Map<KeyPurpose, Buffer>();
  /** A short public fingerprint, to tell which key signed what (never the key). */
  readonly id: string;

  constructor(
    private readonly material: Buffer,
    /** Where it came from: `OPS_MASTER_KEY`, or the file's path. */
    readonly source: string,
    /** Whether this start generated it. */
    readonly generated = false,
  ) {
    this.id = createHash('sha256').update('erp-ops master key id\n').update(material).digest('hex').slice(0, 12);
  }

  key(purpose: KeyPurpose): Buffer {
    let key = this.derived.get(purpose);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.material, Buffer.alloc(0), `erp-ops ${purpose} v1`, 32));
      this.derived.set(purpose, key);
    }
    return key;
  }

  hmac(purpose: KeyPurpose): ReturnType<typeof createHmac> {
    return createHmac('sha256', this.key(purpose));
  }

  /** AES-256-GCM, bound to `context` (additional data): `v1.<iv>.<tag>.<ciphertext>`, base64url. */
  encrypt(purpose: KeyPurpose, plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key(purpose), iv);
    cipher.setAAD(Buffer.from(context));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }

  /** The plaintext, or null when it was encrypted with another key or altered. */
  decrypt(purpose: KeyPurpose, sealed: string, context: string): string | null {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || data === undefined) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key(purpose), Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }
}

function fromText(text: string, source: string, generated = false): MasterKey {
  const value = text.trim();
  if (value.length < MIN_LENGTH)
    throw new MasterKeyError(
      `${source}: the master key must be at least ${MIN_LENGTH} characters (for example the output of: openssl rand -base64 32)`,
    );
  return new MasterKey(Buffer.from(value, 'utf8'), source, generated);
}

/**
 * OPS_MASTER_KEY, else the file (created when missing: exclusive create, so that replicas
 * starting together on one host end up with the same key).
 */
export function loadMasterKey(env: { OPS_MASTER_KEY?: string; OPS_MASTER_KEY_FILE: string }): MasterKey {
  if (env.OPS_MASTER_KEY) return fromText(env.OPS_MASTER_KEY, 'OPS_MASTER_KEY');
  const file = resolve(env.OPS_MASTER_KEY_FILE);
  try {
    return fromText(readFileSync(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (error instanceof MasterKeyError) throw error;
      throw new MasterKeyError(
        `${file}: the master key file cannot be read (${(error as Error).message}); set OPS_MASTER_KEY_FILE to a readable file or OPS_MASTER_KEY`,
      );
    }
  }
  // Written to a temporary file and linked into place: link() fails when the file exists,
  // so replicas starting together on one host all end up reading the one key that won.
  const generated = randomBytes(32).toString('base64url');
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, `${generated}\n`, { mode: 0o600, flag: 'wx' });
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return fromText(readFileSync(file, 'utf8'), file);
    throw new MasterKeyError(
      `${file}: the master key file cannot be created (${(error as Error).message}); set OPS_MASTER_KEY_FILE to a writable path or OPS_MASTER_KEY`,
    );
  } finally {
    rmSync(temporary, { force: true });
  }
  return fromText(generated, file, true);
}

/** A key that lives only in this process (the contract generator, tests that need none). */
export function ephemeralMasterKey(): MasterKey {
  return new MasterKey(randomBytes(32), 'ephemeral');
}
