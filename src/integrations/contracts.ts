/**
 * What the integration adapters offer the rest of the control plane. One adapter class per
 * system under src/integrations/<system>/, the only place that imports its client library.
 * Every method takes CallOptions (explicit timeout) and fails only with IntegrationError.
 */
import { CallOptions } from './integration-error';

// ---- docker/ (dockerode) -------------------------------------------------------------------
export type ContainerHealth = 'healthy' | 'unhealthy' | 'starting' | 'none';

export interface ContainerInfo {
  id: string;
  /** Container name without the leading slash, e.g. erp-postgres. */
  name: string;
  /** com.docker.compose.service label (undefined when missing). */
  service?: string;
  /** com.docker.compose.oneoff === "True" (compose run containers). */
  oneOff: boolean;
  /** State.Status: created, restarting, running, removing, paused, exited, dead. */
  state: string;
  /** State.Health.Status, or 'none' when the container has no healthcheck. */
  health: ContainerHealth;
  failingStreak: number;
  restartCount: number;
  exitCode: number;
  startedAt: string;
  labels: Record<string, string>;
}

export interface ContainerStats {
  /** CPU use in percent of the whole machine (0..100 * cores normalised to 0..100). */
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
}

/** One cumulative reading of a container's counters (no waiting): two of them give CPU use. */
export interface ContainerStatsSample {
  at: number;
  cpuTotal: number;
  systemTotal: number;
  onlineCpus: number;
  memoryBytes: number;
  memoryLimitBytes: number;
}

export interface ExecOptions {
  cmd: string[];
  env?: string[];
  user?: string;
  /** Attach stdin (the process's stdin ends when the writable side is ended). */
  stdin?: boolean;
  startTimeoutMs?: number;
  /** Aborting drops the connection (the command loses its stdin/stdout). */
  signal?: AbortSignal;
}

/** A command running in a container (docker exec). */
export interface ExecProcess {
  stdout: import('node:stream').Readable;
  stdin?: import('node:stream').Writable;
  /** What the command wrote to stderr (bounded). */
  stderr(): string;
  onStderr(listener: (text: string) => void): void;
  /** The exit code once the command ended (null when the engine cannot tell: container gone). */
  exit: Promise<number | null>;
  destroy(): void;
}

/** One container as the engine lists it (GET /containers/json): not inspected. */
export interface ContainerSummary {
  id: string;
  /** Name without the leading slash. */
  name: string;
  image: string;
  /** The id of its image (sha256:…), also when the image lost its tag. */
  imageId: string;
  /** created, restarting, running, removing, paused, exited, dead. */
  state: string;
  /** Docker's human status, e.g. "Exited (0) 2 hours ago". */
  status: string;
  /** ISO time of creation. */
  createdAt: string;
  labels: Record<string, string>;
  /** Size of the container's writable layer (only when listed with size: true). */
  sizeRwBytes?: number;
}

/** One image as the engine lists it (GET /images/json). */
export interface ImageSummary {
  id: string;
  /** Its tags (empty for a dangling image). */
  repoTags: string[];
  createdAt: string;
  sizeBytes: number;
}

/** What the engine says about itself (GET /info). */
export interface DockerEngineInfo {
  serverVersion: string;
  /** Where the engine keeps images, containers and volumes on its host, e.g. /var/lib/docker. */
  dockerRootDir: string;
  cpus: number;
  memoryBytes: number;
}

export interface DockerPort {
  ping(options: CallOptions): Promise<{ version: string; apiVersion: string }>;
  /** docker info: the engine's version, data root, CPUs and memory. */
  engineInfo(options: CallOptions): Promise<DockerEngineInfo>;
  /** Containers of a compose project (all states), each inspected (health, restart count). */
  listProjectContainers(project: string, options: CallOptions): Promise<ContainerInfo[]>;
  /** The last `tail` log lines (stdout and stderr, demultiplexed), oldest first; with timestamps, each starts with Docker's RFC 3339 time. */
  tailLogs(container: string, tail: number, options: CallOptions & { timestamps?: boolean }): Promise<string[]>;
  stats(container: string, options: CallOptions): Promise<ContainerStats>;
  /** A one-shot reading of the counters (fast when the engine is not asked twice within its 1 s cycle). */
  statsSample(container: string, options: CallOptions): Promise<ContainerStatsSample>;
  inspectContainer(container: string, options: CallOptions): Promise<ContainerInfo>;
  /** docker stop (SIGTERM, then SIGKILL after the grace period); already stopped is fine. */
  stopContainer(container: string, options: CallOptions & { graceSeconds?: number }): Promise<void>;
  startContainer(container: string, options: CallOptions): Promise<void>;
  restartContainer(container: string, options: CallOptions & { graceSeconds?: number }): Promise<void>;
  exec(container: string, options: ExecOptions): Promise<ExecProcess>;
  /** docker pause / unpause (already paused / running is fine). */
  pauseContainer(container: string, options: CallOptions): Promise<void>;
  unpauseContainer(container: string, options: CallOptions): Promise<void>;
  /** The container's configured environment (Config.Env) as a map. Values may be secrets: mask before showing. */
  containerEnv(container: string, options: CallOptions): Promise<Record<string, string>>;
  /**
   * What `docker-compose down` + `up` does to one container: removes it (stopping it first)
   * and creates it again from the same configuration (image, command, environment, labels,
   * mounts, network mode, restart policy, healthcheck), then starts it. Returns the new id.
   */
  recreateContainer(container: string, options: CallOptions & { graceSeconds?: number }): Promise<string>;
  /** Containers of the whole engine (GET /containers/json), e.g. { all: true, filters: { status: ['exited'] } }; size: with their writable layer's size. */
  listContainers(
    query: { all?: boolean; filters?: Record<string, string[]>; size?: boolean },
    options: CallOptions,
  ): Promise<ContainerSummary[]>;
  /** DELETE /containers/{id}, never forced: a running container is refused (409); its volumes are kept. */
  removeContainer(container: string, options: CallOptions): Promise<void>;
  /** Images (GET /images/json); dangling: only untagged images (the engine's dangling=true filter). */
  listImages(query: { dangling?: boolean }, options: CallOptions): Promise<ImageSummary[]>;
  /** DELETE /images/{id}, never forced: an image a container uses is refused (409). Returns the ids the engine deleted. */
  removeImage(image: string, options: CallOptions): Promise<string[]>;
}

// ---- target-db/ (pg): the ERP database ------------------------------------------------------
export interface ConnectionCounts {
  total: number;
  max: number;
  byDatabase: { database: string; count: number }[];
}

export interface DbSession {
  pid: number;
  user: string | null;
  application: string;
  clientAddr: string | null;
  state: string | null;
  /** Seconds since the session's state last changed (how long it has been idle). */
  stateSeconds: number;
  backendType: string;
  query: string;
}

export interface SlowQueries {
  source: 'v_slow_queries' | 'pg_stat_statements' | 'none';
  /** Why there is nothing to read (the extension missing or not preloaded). */
  note?: string;
  queries: { query: string; calls: number; meanMs: number; totalMs: number }[];
}

/** pg_stat_database of the connected database: counters cumulative since `statsSince`. */
export interface DatabaseActivity {
  blocksHit: number;
  blocksRead: number;
  commits: number;
  rollbacks: number;
  /** stats_reset, else the server's start (pg_postmaster_start_time): when the counters began. */
  statsSince: Date;
  /** The server's now() at the reading. */
  at: Date;
}

/** A half-open time range [from, to). */
export interface TimeWindow {
  from: Date;
  to: Date;
}

/** QT-09 transfers (transfer_logs started in the window), alarms (alert_logs) and lines (line_occupancy, now). */
export interface Qt09Summary {
  transfers: number;
  /** Transfers whose line clearance was checked (line_checked_at set), and of them found clear. */
  lineChecks: number;
  lineClear: number;
  /** Not line-clear, yet accepted or completed: the protocol was bypassed. */
  clearanceViolations: number;
  /** Handshakes the receiver accepted (timestamp_accept set), cancelled before acceptance, still open. */
  handshakesAccepted: number;
  handshakesCancelled: number;
  handshakesOpen: number;
  /** Records that break the protocol's state machine, by kind. */
  protocolErrors: Record<string, number>;
  segregationAlarms: number;
  segregationAlarmsPending: number;
  segregationAcknowledgements: number;
  /** line_occupancy now: lines per occupancy_status. */
  lineStates: Record<string, number>;
}

export interface QcSummary {
  inspections: number;
  passed: number;
  failed: number;
  inspectedQty: number;
  defectQty: number;
  metalDetector: { inspections: number; failed: number; lastAt: Date | null; lastStatus: string | null };
  /** Per local day (oldest first), every day of the trend range, empty days included. */
  defectTrend: { day: string; inspections: number; failed: number; inspectedQty: number; defectQty: number }[];
  /** Seconds from an item's arrival at QC to its inspection, when qc_inspections has both times; else why not. */
  responseTime:
    { startColumn: string; endColumn: string; count: number; averageSeconds: number | null; p95Seconds: number | null } | { note: string };
}

export interface TargetDatabasePort {
  /** pg_isready equivalent: connects and runs SELECT 1; returns the server version. */
  ping(options: CallOptions): Promise<{ serverVersion: string; latencyMs: number }>;
  /** Tables of the public schema (like \dt). */
  listTables(options: CallOptions): Promise<string[]>;
  /** SELECT count(*) FROM <table>; the table name is validated, never interpolated raw. */
  countRows(table: string, options: CallOptions): Promise<number>;
  connectionCounts(options: CallOptions): Promise<ConnectionCounts>;
  /** pg_database_size(current_database()). */
  databaseSize(options: CallOptions): Promise<number>;
  /** Row counts of schema-qualified tables (as pg_dump names them). */
  countQualified(tables: string[], options: CallOptions): Promise<Record<string, number>>;
  createDatabase(name: string, options: CallOptions): Promise<void>;
  dropDatabase(name: string, options: CallOptions): Promise<void>;
  analyze(options: CallOptions): Promise<void>;
  /** Ends the sessions of one application_name; returns how many. */
  terminateApplication(applicationName: string, options: CallOptions): Promise<number>;
  /** Client sessions of this database (pg_stat_activity, backend_type 'client backend'), not this adapter's own. */
  sessions(options: CallOptions): Promise<DbSession[]>;
  /**
   * pg_terminate_backend for these pids, each only if it is still a client session of this
   * database, idle (or idle in transaction) since before `idleBefore`, and not the control
   * plane's own (application_name erp-ops…): a session that became active meanwhile is spared.
   */
  terminateIdle(pids: number[], idleBefore: Date, options: CallOptions): Promise<number[]>;
  /** The slowest statements: from the view `v_slow_queries` when present, else pg_stat_statements; says which, or why neither. */
  slowQueries(limit: number, options: CallOptions): Promise<SlowQueries>;
  /** Runs one read-only integrity check (a SELECT returning one number: the rows that are wrong) in a read-only transaction. */
  integrityCheck(sql: string, options: CallOptions): Promise<number>;
  /** amcheck's bt_index_check on every B-tree index of the public schema, when the extension is installed. */
  amcheck(options: CallOptions): Promise<{ installed: boolean; indexesChecked: number; errors: { index: string; error: string }[] }>;
  /** VACUUM (ANALYZE) of the whole database, in autocommit (VACUUM cannot run inside a transaction block). */
  vacuumAnalyze(options: CallOptions): Promise<void>;
  /** An adapter for another database of the same server (same credentials). */
  withDatabase(name: string): TargetDatabasePort;
  close(): Promise<void>;
  /** pg_stat_database counters of this database (cache hits, transactions), in one reading. */
  databaseActivity(options: CallOptions): Promise<DatabaseActivity>;
  /** QT-09 protocol figures of a window (read-only transaction). */
  qt09Summary(window: TimeWindow, options: CallOptions): Promise<Qt09Summary>;
  /** Quality control figures of a window, and the defect trend of `trendDays` local days (time zone) ending with the window's. */
  qcSummary(window: TimeWindow, trend: { days: number; timezone: string }, options: CallOptions): Promise<QcSummary>;
}

// ---- target-db/ pg_dump and psql, and servers for restores ---------------------------------------
/** pg_dump or psql, running in the database's container or here. */
export interface PgToolProcess {
  stdout: import('node:stream').Readable;
  stdin?: import('node:stream').Writable;
  /** Exit status (null: unknown, e.g. the container went away). */
  exit: Promise<number | null>;
  stderr(): string;
  /** Stops the tool (drops its connection or kills it); an open transaction rolls back. */
  abort(): void;
}

/** PostgreSQL's own tools against one server: the only way the control plane runs them. */
export interface PgToolsPort {
  readonly via: 'docker-exec' | 'tcp';
  /** What runs, for plans (no secrets). */
  describe(tool: 'pg_dump' | 'psql', database: string): string;
  /** pg_dump of the database as plain SQL that drops and recreates its objects (--clean --if-exists). */
  dump(database: string, signal: AbortSignal, applicationName: string): Promise<PgToolProcess>;
  /** psql reading SQL from stdin, stopping at the first error. */
  psql(database: string, signal: AbortSignal, applicationName: string): Promise<PgToolProcess>;
}

/**
 * A PostgreSQL server a backup is restored into: the ERP's own (a real restore, or a drill
 * when no drill server is configured) or the inventory's drill server. It runs psql there,
 * ends a stopped psql's session, and creates, counts and drops scratch databases.
 */
export interface RestoreServerPort {
  /** host:port (and whose server it is), for plans. */
  readonly server: string;
  readonly tools: PgToolsPort;
  /** Ends the sessions of one application_name (a stopped psql: its transaction rolls back). */
  terminateApplication(applicationName: string, options: CallOptions): Promise<number>;
  /** Creates an empty scratch database (a leftover of the same name is dropped first). */
  createScratch(name: string, options: CallOptions): Promise<void>;
  /** Row counts of schema-qualified tables (as pg_dump names them) in a scratch database. */
  countScratch(name: string, tables: string[], options: CallOptions): Promise<Record<string, number>>;
  /** Drops a scratch database (sessions still connected are ended); absent is fine. */
  dropScratch(name: string, options: CallOptions): Promise<void>;
  close(): Promise<void>;
}

// ---- target-redis/ (ioredis): the ERP's Redis -----------------------------------------------
export interface TargetRedisPort {
  ping(options: CallOptions): Promise<{ latencyMs: number }>;
  /** INFO memory: used_memory and maxmemory in bytes. */
  memory(options: CallOptions): Promise<{ usedBytes: number; maxBytes: number }>;
  close(): Promise<void>;
}

// ---- http/: probes of HTTP endpoints ---------------------------------------------------------
export interface HttpProbeResult {
  status: number;
  latencyMs: number;
  /** Parsed JSON when the body is JSON, else the text (bounded to 64 KiB). */
  body: unknown;
}

export interface HttpProbePort {
  /** GET a URL; any HTTP status is a result (not an error); no answer in time is a timeout. */
  get(url: string, options: CallOptions): Promise<HttpProbeResult>;
}

// ---- prometheus/ ---------------------------------------------------------------------------
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusPort {
  /** Instant query; vector results as numbers. */
  query(promql: string, options: CallOptions & { time?: Date }): Promise<PromSample[]>;
  /** Range query; each series' evaluation times (unix seconds) and values side by side. */
  queryRange(
    promql: string,
    range: { start: Date; end: Date; stepSeconds: number },
    options: CallOptions,
  ): Promise<{ metric: Record<string, string>; times: Float64Array; values: Float64Array }[]>;
}

// ---- elasticsearch/ -----------------------------------------------------------------------
export interface EsClusterHealth {
  clusterName: string;
  status: 'green' | 'yellow' | 'red';
  numberOfNodes: number;
  unassignedShards: number;
}

export interface EsIndex {
  index: string;
  health: string;
  status: string;
  docsCount: number;
  storeSizeBytes: number;
  creationDate?: string;
}

export interface ElasticsearchPort {
  clusterHealth(options: CallOptions): Promise<EsClusterHealth>;
  listIndices(pattern: string, options: CallOptions): Promise<EsIndex[]>;
  count(index: string, options: CallOptions): Promise<number>;
  /**
   * DELETE /<name>,<name>… by explicit names in batches that keep the URL short; a name with
   * `*`, `,` or `_all` (or not a valid index name) is refused before anything is sent.
   * Names already gone are reported as missing, not as an error.
   */
  deleteIndices(names: string[], options: CallOptions): Promise<EsDeleteResult>;
}

export interface EsDeleteResult {
  deleted: string[];
  /** Names that did not exist (any more). */
  missing: string[];
  /** DELETE requests sent. */
  requests: number;
}

// ---- alertmanager/ (API v2) ------------------------------------------------------------------
export interface AmMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  /** false: the matcher is negated (!= or !~); default true. */
  isEqual?: boolean;
}

export type AmAlertState = 'unprocessed' | 'active' | 'suppressed';

export interface AmAlert {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt?: string;
  generatorURL?: string;
  status: { state: AmAlertState; silencedBy: string[]; inhibitedBy: string[] };
  /** Receiver names. */
  receivers: string[];
}

/** An alert as POSTed to /api/v2/alerts (what Prometheus sends). */
export interface AmAlertInput {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export type AmSilenceState = 'active' | 'pending' | 'expired';

export interface AmSilence {
  id: string;
  matchers: AmMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  status: { state: AmSilenceState };
  updatedAt?: string;
}

export interface AmSilenceInput {
  matchers: AmMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

export interface AmStatus {
  /** Cluster status: ready, settling or disabled. */
  cluster: string;
  version: string;
  uptime: string;
}

export interface AmAlertQuery {
  active?: boolean;
  silenced?: boolean;
  inhibited?: boolean;
  unprocessed?: boolean;
  /** Matchers, each sent as one repeated `filter` parameter: `alertname="X"` or an AmMatcher (formatted and quoted by the adapter). */
  filter?: (string | AmMatcher)[];
  /** Receiver name regex. */
  receiver?: string;
}

export interface AlertmanagerPort {
  /** GET /api/v2/status: cluster status and version. */
  status(options: CallOptions): Promise<AmStatus>;
  /** GET /api/v2/alerts with the given flags (Alertmanager's defaults: all true) and `filter` matchers. */
  alerts(query: AmAlertQuery, options: CallOptions): Promise<AmAlert[]>;
  /** POST /api/v2/alerts (as Prometheus does; tests and manual alerts). */
  postAlerts(alerts: AmAlertInput[], options: CallOptions): Promise<void>;
  /** GET /api/v2/silences (every state, expired included), optionally with `filter` matchers. */
  silences(options: CallOptions & { filter?: (string | AmMatcher)[] }): Promise<AmSilence[]>;
  /** GET /api/v2/silence/{id}; an unknown id is a bad_response with status 404. */
  silence(id: string, options: CallOptions): Promise<AmSilence>;
  /** POST /api/v2/silences → the new silence's id (always store the returned id). */
  createSilence(silence: AmSilenceInput, options: CallOptions): Promise<string>;
  /** DELETE /api/v2/silence/{id} (expires it; the silence stays listed as expired). */
  expireSilence(id: string, options: CallOptions): Promise<void>;
}

// ---- notify/ (chat webhook, e-mail over SMTP) --------------------------------------------------
export interface NotificationMessage {
  subject: string;
  /** Plain text (the chat message, and the e-mail's text part). */
  text: string;
  /** The e-mail's HTML part (optional). */
  html?: string;
  /**
   * support (default): the support chat channel and mailbox; emergency: the emergency
   * channel and the support and management mailboxes; management: the management mailbox.
   */
  audience?: 'support' | 'emergency' | 'management';
  attachments?: { filename: string; content: Buffer | string; contentType?: string; cid?: string }[];
}

export interface NotificationDelivery {
  channel: 'chat' | 'email';
  /** Where it went, secrets masked (a webhook URL's token is a secret). */
  target: string;
  delivered: boolean;
  /** Why it was not attempted (the channel is not configured). */
  skipped?: string;
  error?: string;
  attempts: number;
  ms: number;
}

export interface NotifierPort {
  /** Sends on every configured channel of the audience; never throws (failures are in the result). */
  send(
    message: NotificationMessage,
    options?: { signal?: AbortSignal; timeoutMs?: number; retries?: number },
  ): Promise<NotificationDelivery[]>;
}

// ---- host/ (the ERP host's node exporter) ----------------------------------------------------
/** One mounted file system of the ERP host, as its node exporter reports it (bytes). */
export interface HostFilesystem {
  /** Where it is mounted on the ERP host, e.g. /var/lib/docker. */
  mountpoint: string;
  /** The device, e.g. /dev/vda or tmpfs: mountpoints sharing a device are one file system. */
  device: string;
  fsType: string;
  sizeBytes: number;
  /** Free blocks, the root-reserved ones included (node_filesystem_free_bytes). */
  freeBytes: number;
  /** Free to unprivileged users (node_filesystem_avail_bytes): what df shows as Avail. */
  availableBytes: number;
}

/** The ERP host's resources at one reading. */
export interface HostReading {
  /** Where the reading came from (the node exporter's URL, credentials masked). */
  source: string;
  cpus: number;
  /** Load average over 1, 5 and 15 minutes. */
  load: [number, number, number];
  memory: { totalBytes: number; availableBytes: number; usedPercent: number };
  filesystems: HostFilesystem[];
}

/** The disk usage of one path of the ERP host: the file system its longest mountpoint prefix names. */
export interface PathDiskUsage {
  path: string;
  mountpoint: string;
  device: string;
  sizeBytes: number;
  /** size - free (root-reserved blocks count as free, as df computes Used). */
  usedBytes: number;
  /** Available to unprivileged users (df's Avail). */
  freeBytes: number;
  /** As df computes Use%: used / (used + available), one decimal. */
  usedPercent: number;
}

export interface HostResourcesPort {
  /** CPU count, load, memory and every file system of the ERP host, in one fresh reading. */
  read(options: CallOptions): Promise<HostReading>;
  /** The disk usage of each path on the ERP host, in one reading; a path no file system covers gets an error. */
  diskUsage(paths: string[], options: CallOptions): Promise<(PathDiskUsage | { path: string; error: string })[]>;
  /** The disk usage of the Docker engine's data root (docker info's DockerRootDir) on the ERP host. */
  dockerDataRoot(options: CallOptions): Promise<PathDiskUsage>;
}
