import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { onExit } from './on-exit';
import { freePort } from './redis-server';

const run = promisify(execFile);
const BIN = process.env.SOAK_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error("no postgres OS user (install Debian's postgresql)");
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A PostgreSQL server of our own (Debian's PostgreSQL 15 binaries, run as the postgres OS
 * user with runuser since the tests run as root): data directory under `dir`, a free
 * 127.0.0.1 port, trust authentication. Stopped and started with pg_ctl on its own data
 * directory only, so nothing else on the machine is touched.
 */
export class OwnPostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  private get runDir(): string {
    return join(this.dir, 'run');
  }

  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** `dir` must be traversable by the postgres user (mode 0755). */
  static async create(dir: string): Promise<OwnPostgres> {
    const pg = new OwnPostgres(dir, await freePort());
    onExit(() => pg.kill());
    const { uid, gid } = postgresIds();
    for (const d of [dir, pg.dataDir, pg.runDir]) mkdirSync(d, { recursive: true, mode: d === pg.dataDir ? 0o700 : 0o755 });
    chownSync(pg.dataDir, uid, gid);
    chownSync(pg.runDir, uid, gid);
    await run(
      'runuser',
      ['-u', 'postgres', '--', join(BIN, 'initdb'), '-D', pg.dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'],
      { timeout: 60_000 },
    );
    await pg.start();
    return pg;
  }

  /** The postmaster's PID (first line of postmaster.pid), or undefined when it is not running. */
  pid(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  private pgCtl(...args: string[]) {
    return run('runuser', ['-u', 'postgres', '--', join(BIN, 'pg_ctl'), '-D', this.dataDir, ...args], { timeout: 60_000 });
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.runDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
    await this.pgCtl('-l', join(this.runDir, 'postgres.log'), '-o', options, '-w', '-t', '30', 'start');
    await this.waitReady();
  }

  /** A fast shutdown: sessions are ended (57P01), open transactions roll back. */
  async stop(): Promise<void> {
    if (!this.pid()) return;
    await this.pgCtl('-m', 'fast', '-w', '-t', '30', 'stop');
  }

  async waitReady(ms = 30_000): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      if (await this.answers()) return;
      if (Date.now() > until) throw new Error(`own PostgreSQL on ${this.port} did not answer in ${ms} ms`);
      await sleep(50);
    }
  }

  async answers(): Promise<boolean> {
    const client = new Client({ connectionString: this.url(), connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Last resort (a failed test): the postmaster by its PID. */
  kill(): void {
    const pid = this.pid();
    if (pid) {
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
    }
  }
}
