import { z } from 'zod';
import { parseCidr } from '../common/addresses';
import { maskUrl } from '../common/secrets';

/**
 * The control plane's own settings, from the environment (the ERP stack is described
 * by the inventory instead). Validated at boot: a wrong value stops the process with a
 * message naming the variable, the problem and an example.
 */
const bool = (example: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: `must be true or false, for example ${example}` })
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (example: number, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: `must be a whole number, for example ${example}` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: `must be between ${min} and ${max}, for example ${example}` });

const dbUrl = z.string().refine((v) => /^postgres(ql)?:\/\/.+\/[^/?]+/.test(v), {
  error: 'must be a PostgreSQL URL naming the database, for example postgres://postgres@127.0.0.1:5432/erp_ops',
});

/** A comma-separated list of IP addresses or CIDR ranges (IPv4 or IPv6). */
const addressList = z.string().refine(
  (v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .every((entry) => parseCidr(entry) !== null),
  {
    error: 'must be IP addresses or CIDR ranges separated by commas, for example 10.0.0.5,192.168.10.0/24',
  },
);

const envSchema = z.object({
  OPS_HOST: z.string().min(1).default('127.0.0.1'),
  OPS_PORT: int(3100, 0, 65535).default(3100),
  OPS_DATABASE_URL: dbUrl.default('postgres://postgres@127.0.0.1:5432/erp_ops'),
  OPS_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, { error: 'must be a Redis URL, for example redis://127.0.0.1:6379/0' })
    .default('redis://127.0.0.1:6379/0'),
  OPS_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,40}$/, { error: 'must be a short key prefix, for example ops:' })
    .default('ops:'),
  OPS_MIGRATE_ON_START: bool(true).default(true),
  OPS_JWT_SECRET: z.string().min(32, { error: 'must be at least 32 characters (it signs the access tokens)' }).optional(),
  OPS_JWT_TTL_SECONDS: int(900, 60, 86400).default(900),
  OPS_JWT_ISSUER: z.string().min(1).default('erp-ops-control-plane'),
  OPS_JWT_AUDIENCE: z.string().min(1).default('erp-ops'),
  /** Failed sign-ins of one account from one client address before that address is locked out of it. */
  OPS_LOGIN_MAX_FAILURES: int(5, 1, 100).default(5),
  /** Failed sign-ins from one client address (any account) before the address is blocked. */
  OPS_LOGIN_ADDRESS_MAX_FAILURES: int(20, 1, 10000).default(20),
  /** Failed sign-ins of one account from every address together before the account itself is locked. */
  OPS_LOGIN_ACCOUNT_MAX_FAILURES: int(50, 1, 100000).default(50),
  OPS_LOGIN_LOCK_SECONDS: int(900, 1, 86400).default(900),
  /** Addresses (IPs or CIDR ranges, comma-separated) that a locked account can still sign in from. */
  OPS_LOGIN_TRUSTED_ADDRESSES: addressList.default(''),
  OPS_BOOTSTRAP_ADMIN_USERNAME: z
    .string()
    .regex(/^[a-z][a-z0-9_.-]{2,63}$/)
    .default('admin'),
  OPS_BOOTSTRAP_ADMIN_PASSWORD: z.string().min(12, { error: 'must be at least 12 characters' }).optional(),
  OPS_BOOTSTRAP_PASSWORD_FILE: z.string().min(1).default('.ops-admin-password'),
  OPS_RATE_LIMIT_PER_MINUTE: int(600, 0, 1_000_000).default(600),
  OPS_BODY_LIMIT_BYTES: int(102400, 1024, 50 * 1024 * 1024).default(102400),
  OPS_REQUEST_TIMEOUT_MS: int(30000, 100, 600000).default(30000),
  /** JSON bodies nested deeper are refused before they are parsed (400). */
  OPS_JSON_MAX_DEPTH: int(32, 1, 64).default(32),
  /** JSON bodies with more object keys in total are refused before they are parsed (400). */
  OPS_JSON_MAX_KEYS: int(10000, 1, 10_000_000).default(10000),
  OPS_GRAPHQL_INTROSPECTION: bool(false).optional(),
  /** Introspection without a token (off by default: the schema is for signed-in callers). */
  OPS_GRAPHQL_PUBLIC_INTROSPECTION: bool(false).default(false),
  OPS_GRAPHQL_MAX_DEPTH: int(8, 1, 50).default(8),
  OPS_GRAPHQL_MAX_COST: int(1000, 1, 100000).default(1000),
  OPS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  OPS_TRUST_PROXY: bool(false).default(false),
  OPS_SCHEDULER: bool(true).default(true),
  OPS_STATS_SAMPLER: bool(true).default(true),
  OPS_APPROVAL_TTL_SECONDS: int(1800, 1, 7 * 86400).default(1800),
  /** The weekly report's mail is retried by the queue after this (then twice as long). */
  OPS_REPORT_RETRY_DELAY_MS: int(60000, 100, 3_600_000).default(60000),
  /** The key kept outside the database (audit chain HMAC, signing keys at rest); else the file. */
  OPS_MASTER_KEY: z
    .string()
    .min(32, { error: 'must be at least 32 characters, for example the output of openssl rand -base64 32' })
    .optional(),
  OPS_MASTER_KEY_FILE: z.string().min(1).default('.ops-master-key'),
  /** Where the audit chain's head is anchored (append-only JSON lines), and how often. */
  OPS_AUDIT_ANCHOR_FILE: z.string().min(1).default('.ops-audit-anchors.jsonl'),
  OPS_AUDIT_ANCHOR_SECONDS: int(60, 1, 86400).default(60),
  /** Audit entries that could not be written (database unreachable) wait here until they can. */
  OPS_AUDIT_SPOOL_DIR: z.string().min(1).default('.ops-audit-spool'),
  /** Divides every incident duration (response times, grace, reminders): tests run a 5-minute chain in seconds. 1 in production. */
  OPS_INCIDENT_TIME_SCALE: int(1, 1, 3600).default(1),
  /** Whether this replica does the incidents' background work: timers (escalations, reminders, auto-resolve), pages, dry-run plans. */
  OPS_INCIDENT_TIMERS: bool(true).default(true),
  /** How often each replica checks the incidents' timers in PostgreSQL (besides the queue's wake-ups). */
  OPS_INCIDENT_CHECK_MS: int(5000, 100, 600000).default(5000),
  NODE_ENV: z.string().default('development'),
});

export type AppConfig = Omit<z.infer<typeof envSchema>, 'OPS_GRAPHQL_INTROSPECTION'> & { OPS_GRAPHQL_INTROSPECTION: boolean };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadAppConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const input: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = envSchema.safeParse(input);
  if (!result.success) {
    const shown = (key: string) => {
      if (/SECRET|PASSWORD|MASTER_KEY$/.test(key)) return '';
      const value = input[key];
      return ` (got ${JSON.stringify(value === undefined ? null : /:\/\//.test(value) ? maskUrl(value) : value)})`;
    };
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}${shown(String(i.path[0] ?? ''))}`));
  }
  const data = result.data;
  return { ...data, OPS_GRAPHQL_INTROSPECTION: data.OPS_GRAPHQL_INTROSPECTION ?? data.NODE_ENV !== 'production' };
}
