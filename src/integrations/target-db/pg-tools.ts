/**
 * pg_dump and psql, the only place the control plane starts them: in the database's container
 * through the Docker engine's exec API (the runbook's `docker exec`), or here over TCP.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Inventory } from '../../config/inventory.schema';
import { DockerPort, PgToolProcess, PgToolsPort } from '../contracts';

export const DUMP_ARGS = ['--clean', '--if-exists', '--no-password'];
export const PSQL_ARGS = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password'];

/** The database name and user of a postgres URL. */
export function databaseOf(url: string): { database: string; user: string; host: string; port: string; password: string } {
  const u = new URL(url);
  return {
    database: decodeURIComponent(u.pathname.replace(/^\//, '')),
    user: decodeURIComponent(u.username || 'postgres'),
    host: u.hostname,
    port: u.port || '5432',
    password: decodeURIComponent(u.password),
  };
}

/** In the database's container through the Docker engine's exec API (the runbook's `docker exec`), over its local socket. */
export class ExecPgTools implements PgToolsPort {
  readonly via = 'docker-exec' as const;
  constructor(
    private readonly docker: DockerPort,
    private readonly container: string,
    private readonly user: string,
  ) {}

  describe(tool: 'pg_dump' | 'psql', database: string): string {
    const args = tool === 'pg_dump' ? [...DUMP_ARGS, '-U', this.user, '-d', database] : [...PSQL_ARGS, '-U', this.user, '-d', database];
    return `docker exec ${tool === 'psql' ? '-i ' : ''}${this.container} ${tool} ${args.join(' ')}`;
  }

  dump(database: string, signal: AbortSignal, applicationName: string): Promise<PgToolProcess> {
    return this.start(['pg_dump', ...DUMP_ARGS, '-U', this.user, '-d', database], false, signal, applicationName);
  }

  psql(database: string, signal: AbortSignal, applicationName: string): Promise<PgToolProcess> {
    return this.start(['psql', ...PSQL_ARGS, '-U', this.user, '-d', database], true, signal, applicationName);
  }

  private async start(cmd: string[], stdin: boolean, signal: AbortSignal, applicationName: string): Promise<PgToolProcess> {
    const process = await this.docker.exec(this.container, { cmd, stdin, signal, env: [`PGAPPNAME=${applicationName}`] });
    return { stdout: process.stdout, stdin: process.stdin, exit: process.exit, stderr: process.stderr, abort: () => process.destroy() };
  }
}

/** Here, with the local pg_dump/psql over TCP; the password goes through the environment, never argv. */
export class LocalPgTools implements PgToolsPort {
  readonly via = 'tcp' as const;
  constructor(
    private readonly url: string,
    private readonly binDir: string,
  ) {}

  private bin(tool: string): string {
    return this.binDir ? join(this.binDir, tool) : tool;
  }

  describe(tool: 'pg_dump' | 'psql', database: string): string {
    const c = databaseOf(this.url);
    const args = tool === 'pg_dump' ? DUMP_ARGS : PSQL_ARGS;
    return `${this.bin(tool)} ${args.join(' ')} (host ${c.host}:${c.port}, user ${c.user}, database ${database})`;
  }

  dump(database: string, signal: AbortSignal, applicationName: string): Promise<PgToolProcess> {
    return this.start(this.bin('pg_dump'), DUMP_ARGS, database, false, signal, applicationName);
  }

  psql(database: string, signal: AbortSignal, applicationName: string): Promise<PgToolProcess> {
    return this.start(this.bin('psql'), PSQL_ARGS, database, true, signal, applicationName);
  }

  private start(
    bin: string,
    args: string[],
    database: string,
    stdin: boolean,
    signal: AbortSignal,
    applicationName: string,
  ): Promise<PgToolProcess> {
    const c = databaseOf(this.url);
    const child = spawn(bin, args, {
      stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      // Only what the tool needs: never the control plane's own environment (its secrets).
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        PGHOST: c.host,
        PGPORT: c.port,
        PGUSER: c.user,
        PGPASSWORD: c.password,
        PGDATABASE: database,
        PGAPPNAME: applicationName,
        PGCONNECT_TIMEOUT: '10',
        LANG: 'C.UTF-8',
      },
      signal,
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 65536) stderr += chunk.toString('utf8');
    });
    child.stdin?.on('error', () => undefined);
    const exit = new Promise<number | null>((resolve) => {
      child.on('error', (error) => {
        stderr += `${bin}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : error.message}`;
        resolve(null);
      });
      child.on('close', (code) => resolve(code));
    });
    return Promise.resolve({
      stdout: child.stdout!,
      stdin: child.stdin ?? undefined,
      exit,
      stderr: () => stderr,
      abort: () => child.kill('SIGTERM'),
    });
  }
}

/** The tools the inventory asks for. */
export function pgToolsFor(inventory: Inventory, docker: DockerPort): PgToolsPort {
  const b = inventory.backups;
  if (b.dumpVia === 'tcp') return new LocalPgTools(inventory.erpDatabase.url, b.pgBinDir);
  const service = inventory.stack.services.find((s) => s.name === b.service);
  if (!service) throw new Error(`backups.service ${b.service} is not among stack.services`);
  return new ExecPgTools(docker, service.container, databaseOf(inventory.erpDatabase.url).user);
}
