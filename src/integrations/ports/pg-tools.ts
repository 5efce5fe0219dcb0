/** The port of target-db/ pg_dump and psql, and servers for restores. */
import { CallOptions } from '../integration-error';

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
