import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { appendLineDurably } from '../common/durable-append';

/** An entry as it will be inserted (already masked and bounded), with the time it happened. */
export interface PendingEntry {
  at: string;
  actor: string;
  actorRole: string | null;
  actorVia: string | null;
  action: string;
  target: string | null;
  parameters: Record<string, unknown>;
  outcome: 'success' | 'failure' | 'denied';
  errorCode: string | null;
  requestId: string | null;
  clientAddress: string | null;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Audit entries that could not be written (the control plane's database unreachable) wait
 * here, on local disk, until they can: one JSON-lines file per process (`<pid>.jsonl`),
 * fsynced before the caller goes on. A replayer claims a file by renaming it (only one
 * process can), inserts its entries in order, then deletes it; the files of a process that
 * died are claimed by whichever process replays next. Entries hold no secret (they are
 * masked before they get here).
 */
export class AuditSpool {
  readonly dir: string;
  private claims = 0;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  private get own(): string {
    return join(this.dir, `${process.pid}.jsonl`);
  }

  add(entry: PendingEntry): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    appendLineDurably(this.own, JSON.stringify(entry));
  }

  /** The spool files this process may replay now (its own, and those of processes gone), claimed. */
  claim(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const claimed: string[] = [];
    for (const name of names.sort()) {
      const match = /^(\d+)\.jsonl(?:\.replay-(\d+)-\d+)?$/.exec(name);
      if (!match) continue;
      const owner = Number(match[2] ?? match[1]);
      if (match[2] && owner === process.pid) {
        claimed.push(join(this.dir, name));
        continue;
      }
      if (owner !== process.pid && alive(owner)) continue;
      const target = join(this.dir, `${match[1]}.jsonl.replay-${process.pid}-${++this.claims}`);
      try {
        renameSync(join(this.dir, name), target);
        claimed.push(target);
      } catch {
        // Claimed by another process meanwhile.
      }
    }
    return claimed;
  }

  read(file: string): PendingEntry[] {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as PendingEntry];
        } catch {
          return []; // a line cut by a crash while it was written
        }
      });
  }

  done(file: string): void {
    rmSync(file, { force: true });
  }

  pending(): boolean {
    try {
      return readdirSync(this.dir).some((name) => /^\d+\.jsonl/.test(name));
    } catch {
      return false;
    }
  }
}
