import { z } from 'zod';
import { incidentsSchema } from './incidents.schema';

/**
 * The inventory: the one description of the ERP stack the control plane operates.
 * Every name, path and number of the ERP stack lives here (see ops.example.yaml),
 * never in code. Each key carries an example that boot-time errors quote.
 */

const url = (example: string, protocols: string[]) =>
  z.string({ error: `must be a URL, for example ${example}` }).refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    { error: `must be a ${protocols.join(' or ')} URL, for example ${example}` },
  );

const httpUrl = (example: string) => url(example, ['http', 'https']);

const band = (exampleWarn: number, exampleFail: number) =>
  z
    .object({
      warn: z.number({ error: `must be a number, for example ${exampleWarn}` }).nonnegative(),
      fail: z.number({ error: `must be a number, for example ${exampleFail}` }).nonnegative(),
    })
    .strict()
    .refine((b) => b.warn <= b.fail, { error: `warn must not be above fail, for example { warn: ${exampleWarn}, fail: ${exampleFail} }` });

const cron = (example: string) =>
  z.string({ error: `must be a cron expression, for example "${example}"` }).regex(/^(\S+\s+){4,5}\S+$/, {
    error: `must be a cron expression of five fields (or six, with seconds first), for example "${example}"`,
  });

const timeZone = z.string({ error: 'must be an IANA time zone, for example Asia/Jakarta' }).refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { error: 'must be an IANA time zone, for example Asia/Jakarta' },
);

/**
 * Where the ERP host's node exporter listens when the inventory does not say: on the Docker
 * host (the ERP host) at the exporter's standard port 9100; with a local Docker socket, here.
 */
export function defaultNodeExporterUrl(dockerHost: string): string {
  try {
    const url = new URL(dockerHost);
    if (url.protocol !== 'unix:' && url.hostname) return `http://${url.hostname}:9100`;
  } catch {
    // dockerHost is validated on its own; an invalid one falls back to this machine.
  }
  return 'http://127.0.0.1:9100';
}

export const severitySchema = z.enum(['P1', 'P2', 'P3']);
export type Severity = z.infer<typeof severitySchema>;

/**
 * One row of the runbook's escalation table, as written in the inventory: an object, or a
 * plain string (the situation alone: its id made from it, the level's contacts and time).
 */
const situationRow = z.preprocess(
  (row) => (typeof row === 'string' ? { situation: row } : row),
  z
    .object({
      id: z
        .string()
        .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, { error: 'must be a short id (a-z, 0-9, -), for example system-down' })
        .optional(),
      situation: z
        .string({ error: 'must name the situation, for example "System down"' })
        .min(1, { error: 'must name the situation, for example "System down"' })
        .max(200),
      contacts: z
        .array(z.string().min(1))
        .min(1, { error: 'must name at least one contact, for example ["On-Call Senior Dev"]' })
        .optional(),
      responseMinutes: z.number({ error: 'must be a number of minutes, for example 60' }).int().positive().optional(),
    })
    .strict(),
);

/** A row of the escalation table: a situation of a level, whom to call and how fast they answer. */
export interface EscalationRow {
  id: string;
  situation: string;
  contacts: string[];
  responseMinutes: number;
}

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40) || 'situation';

/**
 * One level of the escalation table: its response time (paging timers), its rows (situation →
 * contacts → response time, the runbook's table) and its contacts (for what matches no row;
 * by default every row's contacts). A row written as a plain string takes the level's.
 */
const escalationLevel = (minutes: number, contact: string) =>
  z
    .object({
      responseMinutes: z
        .number({ error: `must be a number of minutes, for example ${minutes}` })
        .int()
        .positive(),
      situations: z.array(situationRow).default([]),
      contacts: z
        .array(z.string().min(1), { error: `must be a list of contacts, for example ["${contact}"]` })
        .min(1, {
          error: `must name at least one contact, for example ["${contact}"]`,
        })
        .optional(),
    })
    .strict()
    .superRefine((level, ctx) => {
      const fromRows = level.situations.flatMap((r) => r.contacts ?? []);
      if (!level.contacts && !fromRows.length)
        ctx.addIssue({ code: 'custom', path: ['contacts'], message: `must name at least one contact, for example ["${contact}"]` });
      else if (!level.contacts && level.situations.some((r) => !r.contacts))
        ctx.addIssue({
          code: 'custom',
          path: ['contacts'],
          message: "must be given when a situation names no contacts of its own (they take the level's)",
        });
      const ids = level.situations.map((r) => r.id ?? slug(r.situation));
      const twice = ids.find((id, i) => ids.indexOf(id) !== i);
      if (twice) ctx.addIssue({ code: 'custom', path: ['situations'], message: `has the situation id "${twice}" twice` });
    })
    .transform((level) => {
      const contacts = level.contacts ?? [...new Set(level.situations.flatMap((r) => r.contacts ?? []))];
      const situations: EscalationRow[] = level.situations.map((r) => ({
        id: r.id ?? slug(r.situation),
        situation: r.situation,
        contacts: r.contacts ?? contacts,
        responseMinutes: r.responseMinutes ?? level.responseMinutes,
      }));
      return { responseMinutes: level.responseMinutes, contacts, situations };
    });

const serviceSchema = z
  .object({
    name: z.string({ error: 'must be the compose service name, for example postgres' }).regex(/^[a-z0-9][a-z0-9_.-]*$/, {
      error: 'must be a compose service name (lower case letters, digits, - _ .), for example postgres',
    }),
    container: z.string({ error: 'must be the container name, for example erp-postgres' }).regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, {
      error: 'must be a container name, for example erp-postgres',
    }),
    healthcheck: z.boolean({ error: 'must be true or false (does the container define a Docker healthcheck?), for example true' }),
    /**
     * Start order when services are recreated (emergency.outage, like compose's depends_on):
     * lower tiers first: 0 database and cache, 1 backend and the rest, 2 the proxy.
     */
    tier: z
      .number({ error: 'must be a whole number 0-9 (0 starts first), for example 1' })
      .int({ error: 'must be a whole number 0-9 (0 starts first), for example 1' })
      .min(0)
      .max(9)
      .default(1),
    /**
     * A service the ERP cannot work without (default true). One service down is restarted alone
     * (service.restart: P3 when not critical, P2 when critical); more than one critical service
     * down is an outage (emergency.outage).
     */
    critical: z.boolean({ error: 'must be true or false (can the ERP work without it?), for example true' }).default(true),
  })
  .strict();

const integrityCheckSchema = z
  .object({
    name: z.string({ error: 'must name the check, for example "products without id"' }).min(1).max(100),
    sql: z
      .string({
        error:
          'must be one SELECT returning a number (the rows that are wrong), for example SELECT count(*) FROM products WHERE id IS NULL',
      })
      .regex(/^\s*(select|with)\s/i, {
        error:
          'must be one SELECT returning a number (the rows that are wrong), for example SELECT count(*) FROM products WHERE id IS NULL',
      })
      .refine((sql) => !sql.replace(/;\s*$/, '').includes(';'), { error: 'must be a single statement (no ;)' }),
  })
  .strict();

export const inventorySchema = z
  .object({
    timezone: timeZone.default('Asia/Jakarta'),
    stack: z
      .object({
        composeProject: z.string({ error: 'must be the compose project name, for example erp' }).min(1),
        services: z
          .array(serviceSchema, {
            error: 'must be a list of services, for example [{ name: postgres, container: erp-postgres, healthcheck: true }]',
          })
          .min(1, { error: 'must list at least one service, for example [{ name: postgres, container: erp-postgres, healthcheck: true }]' })
          .refine((list) => new Set(list.map((s) => s.name)).size === list.length, { error: 'service names must be unique' })
          .refine((list) => new Set(list.map((s) => s.container)).size === list.length, { error: 'container names must be unique' }),
        dockerHost: url('unix:///var/run/docker.sock', ['unix', 'http', 'tcp']).default('unix:///var/run/docker.sock'),
        /** Paths whose disk usage is a key metric (the database's data and the backups). */
        dataPaths: z.array(z.string().regex(/^\//, { error: 'must be an absolute path, for example /var/lib/docker' })).default(['/']),
        /**
         * The ERP host's node exporter (host disk, CPU, memory, load). Default: port 9100 of the
         * Docker host when that is remote (tcp/http), else of this machine.
         */
        nodeExporterUrl: httpUrl('http://127.0.0.1:9100').optional(),
        /**
         * The ERP host as its Docker engine names itself (docker info: Name, the host's hostname;
         * runbook step 1 "check hostname"), and optionally the engine's ID: the checklist fails when
         * the engine it reaches (stack.dockerHost, DOCKER_HOST) is another one.
         */
        hostName: z.string({ error: 'must be the host name the Docker engine reports, for example erp-prod' }).min(1).max(253).optional(),
        engineId: z.string({ error: "must be the Docker engine's ID (docker info: ID)" }).min(1).max(200).optional(),
      })
      .strict()
      .transform((stack) => ({ ...stack, nodeExporterUrl: stack.nodeExporterUrl ?? defaultNodeExporterUrl(stack.dockerHost) })),
    erpDatabase: z
      .object({
        url: url('postgres://postgres@localhost:5432/erp_quty_karunia_prod', ['postgres', 'postgresql']).refine(
          (value) => {
            try {
              return new URL(value).pathname.replace(/^\//, '').length > 0;
            } catch {
              return false;
            }
          },
          { error: 'must name the database, for example postgres://postgres@localhost:5432/erp_quty_karunia_prod' },
        ),
        countTable: z
          .string()
          .regex(/^[a-z_][a-z0-9_]*$/, { error: 'must be a table name of the public schema, for example products' })
          .default('products'),
        /** emergency.data-corruption's integrity checks (read-only, one number each: the rows that are wrong). */
        integrityChecks: z
          .array(integrityCheckSchema)
          .default([{ name: 'products without id', sql: 'SELECT count(*) FROM products WHERE id IS NULL' }]),
      })
      .strict(),
    /** Defaults of the remediation procedures (each can be overridden per run by a parameter). */
    remediations: z
      .object({
        /** db.connection-pool-exhausted: sessions idle longer than this are terminated. */
        idleConnectionMinutes: z.number().min(0).max(1440).default(30),
        /** backend.crash-loop: how long to watch the restarted backend for "healthy". */
        backendRecoverySeconds: z.number().int().min(5).max(3600).default(60),
        /** backend.crash-loop: the pause between stop and start (the runbook's sleep 5). */
        backendRestartPauseSeconds: z.number().int().min(0).max(300).default(5),
        /** emergency.outage: how long a plain restart may take to bring every service back before recreating them. */
        outageRestartSeconds: z.number().int().min(5).max(3600).default(120),
        /** emergency.outage: how long the recreated services (and the checklist) may take. */
        outageRecoverySeconds: z.number().int().min(5).max(3600).default(300),
      })
      .strict()
      .default({
        idleConnectionMinutes: 30,
        backendRecoverySeconds: 60,
        backendRestartPauseSeconds: 5,
        outageRestartSeconds: 120,
        outageRecoverySeconds: 300,
      }),
    erpRedis: z.object({ url: url('redis://localhost:6379/0', ['redis', 'rediss']) }).strict(),
    /**
     * The runbook's `time curl …/api/v1/auth/me -H "Authorization: Bearer …"`: one authenticated
     * request to the backend (urls.backend + path), timed against thresholds.apiSlowSeconds (the
     * escalation table's P2 "API slow (> 5 s)"). The token is a secret (env ERP_API_TOKEN
     * overrides); without one the request goes out unauthenticated and a 401 is the expected answer.
     */
    apiCheck: z
      .object({
        path: z
          .string()
          .regex(/^\/[^\s]*$/, { error: 'must be a path on urls.backend, for example /api/v1/auth/me' })
          .default('/api/v1/auth/me'),
        token: z.string().max(4096).default(''),
      })
      .strict()
      .default({ path: '/api/v1/auth/me', token: '' }),
    urls: z
      .object({
        backendHealth: httpUrl('http://localhost/health'),
        backend: httpUrl('http://localhost:8000'),
        prometheus: httpUrl('http://localhost:9090'),
        alertmanager: httpUrl('http://localhost:9093'),
        elasticsearch: httpUrl('http://localhost:9200'),
        grafana: httpUrl('http://localhost:3000'),
        kibana: httpUrl('http://localhost:5601'),
        logstash: httpUrl('http://localhost:9600'),
      })
      .strict(),
    backups: z
      .object({
        directory: z.string().regex(/^\//, { error: 'must be an absolute path, for example /backups/erp-postgres' }),
        naming: z
          .string()
          .refine((n) => n.includes('{YYYY}') && n.includes('{MM}') && n.includes('{DD}'), {
            error: 'must contain the tokens {YYYY}, {MM} and {DD}, for example "erp_backup_{YYYY}-{MM}-{DD}_{HH}00.sql.gz"',
          })
          .refine((n) => !n.includes('/'), {
            error: 'must be a file name without "/", for example "erp_backup_{YYYY}-{MM}-{DD}_{HH}00.sql.gz"',
          }),
        retentionDays: z.number({ error: 'must be a number of days, for example 7' }).int().positive().default(7),
        keepLastOnCleanup: z.number({ error: 'must be a number of backups, for example 3' }).int().positive().default(3),
        /** The checklist's "backups" item: the newest verified backup may be this old (hours)... */
        maxAgeHours: z
          .number({ error: 'must be a number of hours, for example 24' })
          .positive()
          .max(24 * 365)
          .default(24),
        /** ...and the newest backup not smaller than this fraction of the one before it (0 turns the size check off). */
        minSizeRatio: z.number({ error: 'must be a fraction, for example 0.5' }).min(0).max(1).default(0.5),
        /** Where pg_dump and psql run: in the database's container (docker exec, as the runbook does) or here over TCP. */
        dumpVia: z.enum(['docker-exec', 'tcp'], { error: 'must be docker-exec or tcp' }).default('docker-exec'),
        /** The compose service of the database container (docker-exec). */
        service: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_.-]*$/, { error: 'must be a compose service name, for example postgres' })
          .default('postgres'),
        /** Directory of pg_dump and psql for tcp (empty: from PATH); their major version must not be older than the server's. */
        pgBinDir: z
          .string()
          .regex(/^(\/.*)?$/, { error: 'must be an absolute path, for example /usr/lib/postgresql/15/bin' })
          .default(''),
        /** gzip level 1–9 (default 3: on 2 cores gzip -6 costs twice the CPU of the dump itself for 9 % smaller files; gzip's own default is 6). */
        compressionLevel: z.number({ error: 'must be a gzip level 1–9, for example 3' }).int().min(1).max(9).default(3),
        /** gzip members compressed at once (0: one per core). */
        compressionThreads: z
          .number({ error: 'must be a number of threads, for example 0 (one per core)' })
          .int()
          .min(0)
          .max(64)
          .default(0),
        /** Server for restore drills (scratch databases); default the ERP's own server. */
        drillDatabaseUrl: url('postgres://postgres@localhost:5432/postgres', ['postgres', 'postgresql']).optional(),
        /** How long a restore waits for the backend to be healthy again. */
        backendHealthySeconds: z.number({ error: 'must be seconds, for example 180' }).int().min(5).max(3600).default(180),
      })
      .strict(),
    logs: z
      .object({
        /** How many of each service's last log lines the checklist scans (runbook: 50). */
        tail: z.number({ error: 'must be a number of lines, for example 50' }).int().min(1).max(5000).default(50),
        /** Case-insensitive regular expression of an error line (runbook: grep -i error). */
        pattern: z
          .string()
          .refine(
            (p) => {
              try {
                new RegExp(p, 'i');
                return true;
              } catch {
                return false;
              }
            },
            { error: 'must be a regular expression, for example "error"' },
          )
          .default('error'),
        /** Only lines newer than this many seconds count (0: every one of the last `tail` lines). */
        windowSeconds: z.number().int().min(0).default(0),
        /** Today's erp-* indices must have grown over this many seconds ("logs flowing"). */
        flowWindowSeconds: z.number().int().min(1).default(600),
        /** Index pattern of the ERP's logs in Elasticsearch. */
        indexPattern: z.string().min(1).default('erp-*'),
        /** logs.elasticsearch-ingest deletes indices whose name's date is older than this many days (runbook: 30). */
        retentionDays: z
          .number({ error: 'must be a whole number of days ≥ 1, for example 30' })
          .int({ error: 'must be a whole number of days ≥ 1, for example 30' })
          .min(1, { error: 'must be a whole number of days ≥ 1, for example 30' })
          .max(3650)
          .default(30),
      })
      .strict()
      .default({ tail: 50, pattern: 'error', windowSeconds: 0, flowWindowSeconds: 600, indexPattern: 'erp-*', retentionDays: 30 }),
    /** disk.cleanup (runbook Issue 3): where the services' last log lines are archived before pruning. */
    cleanup: z
      .object({
        /** Directory of the log archives logs_backup_YYYYMMDD_HHMMSS.txt (runbook: /archives); created when missing. */
        archiveDirectory: z
          .string({ error: 'must be an absolute path, for example /archives' })
          .regex(/^\//, { error: 'must be an absolute path, for example /archives' })
          .default('/archives'),
        /** How many of each service's last log lines are archived (runbook: docker-compose logs --tail 10000). */
        logLines: z
          .number({ error: 'must be a number of lines 1–10000, for example 10000' })
          .int({ error: 'must be a number of lines 1–10000, for example 10000' })
          .min(1, { error: 'must be a number of lines 1–10000, for example 10000' })
          .max(10000, { error: 'must be a number of lines 1–10000, for example 10000' })
          .default(10000),
      })
      .strict()
      .default({ archiveDirectory: '/archives', logLines: 10000 }),
    thresholds: z
      .object({
        dbConnections: band(120, 150).and(z.object({ max: z.number().int().positive().default(200) })),
        apiP95Seconds: band(0.8, 1),
        cpuPercent: band(60, 70),
        memoryPercent: band(70, 80),
        diskPercent: band(80, 85),
        redisMemoryMb: band(450, 512),
        /** The ERP Redis's answer to PING (redis-cli ping), in ms. */
        redisPingMs: band(100, 1000).default({ warn: 100, fail: 1000 }),
        /**
         * The daily review's System Overview dashboard has targets of its own, stricter than the
         * hourly check's: CPU < 50 % during normal hours, memory < 70 %, disk < 80 % (runbook
         * "Daily Review Process", dashboard 1).
         */
        overviewCpuPercent: band(40, 50).default({ warn: 40, fail: 50 }),
        overviewMemoryPercent: band(60, 70).default({ warn: 60, fail: 70 }),
        overviewDiskPercent: band(75, 80).default({ warn: 75, fail: 80 }),
        /** One authenticated request to the backend (apiCheck), in seconds: the escalation table's P2 "API slow (> 5 s)". */
        apiSlowSeconds: band(1, 5).default({ warn: 1, fail: 5 }),
        errorRatePercent: band(0.5, 1),
        /**
         * The window, in minutes, of the checklist's API p95 and error rate (Prometheus rate()):
         * 5, as the ERP's HighAPILatency and HighErrorRate rules judge them.
         */
        rateWindowMinutes: z.number({ error: 'must be a number of minutes, for example 5' }).int().min(1).max(60).default(5),
        cacheHitPercentMin: z.number().min(0).max(100).default(95),
        qcPassPercentMin: z.number().min(0).max(100).default(98),
        /** Runbook: QC response (inspection started to result) under 30 s. */
        qcResponseSecondsMax: z.number().positive().default(30),
        freeDiskGbMin: z.number().nonnegative().default(100),
      })
      .strict(),
    schedules: z
      .object({
        dailyChecklist: cron('0 6 * * *').default('0 6 * * *'),
        /** The runbook's hourly health check during business hours (09:00, 10:00, ... 17:00): services and key metrics. */
        hourlyHealthCheck: cron('0 9-17 * * *').default('0 9-17 * * *'),
        /** Daily backup; retention runs right after it. */
        backup: cron('0 2 * * *').default('0 2 * * *'),
        /** Weekly restore drill of the newest backup. */
        restoreDrill: cron('0 3 * * 0').default('0 3 * * 0'),
        dailyReview: cron('0 8 * * *').default('0 8 * * *'),
        weeklyReport: cron('0 17 * * 5').default('0 17 * * 5'),
        checklistDeadlineMs: z.number({ error: 'must be milliseconds, for example 5000' }).int().min(100).max(120000).default(5000),
      })
      .strict(),
    escalation: z
      .object({
        P1: escalationLevel(5, 'On-Call Senior Dev'),
        P2: escalationLevel(15, 'Senior Dev'),
        P3: escalationLevel(30, 'Support'),
        controlPlaneAdmins: z.array(z.string().min(1)).default(['Control plane administrator']),
      })
      .strict(),
    /**
     * Where remediation procedures (and reports) send their notifications: a chat webhook
     * (Slack incoming-webhook JSON) and e-mail over SMTP. A channel is "not configured" when
     * its URL is the empty string: the notifier then reports it as skipped.
     */
    notifications: z
      .object({
        /** Chat channel of the support audience. */
        slackChannel: z.string().default('#erp-support'),
        /** Chat channel of the emergency audience. */
        emergencyChannel: z.string().default('#erp-emergency'),
        /** The support mailbox (support and emergency audiences). */
        email: z.email({ error: 'must be an e-mail address, for example erp-support@qutykarunia.com' }),
        /** The management mailbox (emergency and management audiences). */
        managementEmail: z.email({ error: 'must be an e-mail address, for example management@qutykarunia.com' }),
        /**
         * SMTP server: smtp:// (STARTTLS when offered) or smtps:// (TLS from the start),
         * optionally with user:password (a secret: env OPS_SMTP_URL overrides) and nodemailer
         * options as query, e.g. ?requireTLS=true or ?tls.rejectUnauthorized=false. "" = no e-mail.
         */
        smtpUrl: z
          .string({ error: 'must be a URL, for example smtp://localhost:25 (or "" for no e-mail)' })
          .refine((value) => value === '' || url('', ['smtp', 'smtps']).safeParse(value).success, {
            error: 'must be a smtp or smtps URL, for example smtp://localhost:25 (or "" for no e-mail)',
          }),
        /** Chat incoming-webhook URL; its path is a secret (env OPS_CHAT_WEBHOOK_URL overrides). "" = no chat. */
        chatWebhookUrl: z.union([z.literal(''), httpUrl('https://hooks.example.com/services/T000/B000/XXXX')]).default(''),
        /** Sender address of the e-mails (a host without a dot, like localhost, is allowed). */
        fromEmail: z
          .string({ error: 'must be an e-mail address, for example erp-ops@qutykarunia.com' })
          .regex(/^[^\s@<>()",;:]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, {
            error: 'must be an e-mail address, for example erp-ops@qutykarunia.com',
          })
          .default('erp-ops@localhost'),
        /** Display name of the sender. */
        fromName: z.string().max(100).default('ERP ops'),
      })
      .strict(),
    adminPanel: z
      .object({
        origins: z.array(httpUrl('https://erp.yourdomain.com')).default([]),
      })
      .strict()
      .default({ origins: [] }),
    /** Incidents, on-call and escalation (see incidents.schema.ts); every key has a default. */
    incidents: incidentsSchema.prefault({}),
  })
  .strict()
  .superRefine((inv, ctx) => {
    if (inv.backups.dumpVia === 'docker-exec' && !inv.stack.services.some((s) => s.name === inv.backups.service)) {
      ctx.addIssue({
        code: 'custom',
        path: ['backups', 'service'],
        message: `must name one of stack.services (${inv.stack.services.map((s) => s.name).join(', ')}) for dumpVia docker-exec, for example postgres`,
      });
    }
  });

export type Inventory = z.infer<typeof inventorySchema>;
export type InventoryService = Inventory['stack']['services'][number];
