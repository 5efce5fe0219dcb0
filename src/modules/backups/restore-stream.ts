import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { RestoreServerPort } from '../../integrations/contracts';
import { BackupEntity } from './backup.entity';
import { dumpComplete } from './dump-scanner';
import { SQL_CALL, throttled, toolError, Work } from './work';

/** Where and how a restore runs: the server, the database on it, the backup directory. */
export interface RestoreTarget {
  server: RestoreServerPort;
  database: string;
  directory: string;
}

/** Hashes and counts what it passes on, reporting progress (throttled). */
function progressTap(work: Work, phase: string, total: number) {
  const hash = createHash('sha256');
  const report = throttled(work.progress);
  let readBytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, callback) {
      hash.update(chunk);
      readBytes += chunk.length;
      report({ phase, bytesRead: readBytes, percent: Math.min(99, Math.round((readBytes / Math.max(1, total)) * 100)) });
      callback(null, chunk);
    },
  });
  return { tap, hash, report, bytesRead: () => readBytes };
}

/**
 * BEGIN before the first chunk; COMMIT at the end only when the file's SHA-256 matched (unless
 * forced) and pg_dump's completion marker was seen. Otherwise the stream fails and psql's
 * input ends without COMMIT, so the server rolls everything back.
 */
function transactionWrap(entry: BackupEntity, digest: () => string, force: boolean): Transform {
  // Only the stream's end matters here (pg_dump's completion marker): no per-line work.
  let tail: Buffer = Buffer.alloc(0);
  let began = false;
  return new Transform({
    transform(chunk: Buffer, _e, callback) {
      tail = chunk.length >= 512 ? chunk.subarray(chunk.length - 512) : Buffer.concat([tail, chunk]).subarray(-512);
      if (!began) {
        began = true;
        this.push('BEGIN;\n');
      }
      callback(null, chunk);
    },
    flush(callback) {
      const sha = digest();
      if (sha !== entry.sha256 && !force)
        return callback(
          new Error(`the file's SHA-256 is ${sha}, the catalog recorded ${entry.sha256}: the file is corrupted; nothing was committed`),
        );
      if (!dumpComplete(tail))
        return callback(new Error('the dump in the file is incomplete (no pg_dump completion marker); nothing was committed'));
      callback(null, 'COMMIT;\n');
    },
  });
}

/** The file is there and has the size the catalog recorded (unless forced); returns its size. */
async function checkedSize(entry: BackupEntity, directory: string, force: boolean): Promise<number> {
  const file = await stat(join(directory, entry.fileName)).catch(() => null);
  if (!file) throw new Error(`the file ${entry.fileName} is missing from ${directory}`);
  if (file.size !== entry.sizeBytes && !force)
    throw new Error(
      `the file ${entry.fileName} has ${file.size} bytes, the catalog recorded ${entry.sizeBytes}: it changed since the backup`,
    );
  return file.size;
}

/**
 * Streams a backup file into psql in one transaction: BEGIN, the dump, and COMMIT only
 * after the whole file was read, its SHA-256 matched (unless forced) and pg_dump's
 * completion marker was seen. Anything else ends psql's input without COMMIT, so the
 * server rolls everything back. Returns the restore's duration.
 */
export async function restoreStream(
  entry: BackupEntity,
  target: RestoreTarget,
  work: Work,
  options: { force?: boolean; phase: string },
): Promise<{ durationMs: number }> {
  const { server, database, directory } = target;
  const appName = `erp-ops-restore-${work.runId.slice(0, 8)}`;
  const size = await checkedSize(entry, directory, Boolean(options.force));
  const started = performance.now();
  const { tap, hash, report, bytesRead } = progressTap(work, options.phase, size);
  const wrap = transactionWrap(entry, () => hash.digest('hex'), Boolean(options.force));
  const psql = await server.tools.psql(database, work.signal, appName);
  psql.stdout.resume();
  try {
    const file = createReadStream(join(directory, entry.fileName), { highWaterMark: 1024 * 1024 });
    await pipeline(file, tap, createGunzip({ chunkSize: 256 * 1024 }), wrap, psql.stdin!, { signal: work.signal });
  } catch (error) {
    psql.abort();
    // Whatever psql does, its session ends here: the open transaction rolls back.
    await server.terminateApplication(appName, SQL_CALL).catch(() => undefined);
    const exit = await Promise.race([psql.exit, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    const reason = work.signal.aborted ? 'cancelled' : (error as Error).message;
    const detail = psql.stderr().trim() ? `; ${toolError('psql', exit, psql.stderr())}` : '';
    throw new Error(
      `restore into ${database} stopped: ${reason.replace(/^incorrect header check$|^unexpected end of file$/, (m) => `the file is not a complete gzip stream (${m})`)}${detail}; the transaction was rolled back`,
    );
  }
  const exit = await psql.exit;
  if (exit !== 0) throw new Error(`${toolError('psql', exit, psql.stderr())}; the transaction was rolled back`);
  report({ phase: options.phase, bytesRead: bytesRead(), percent: 100 }, true);
  return { durationMs: Math.round(performance.now() - started) };
}
