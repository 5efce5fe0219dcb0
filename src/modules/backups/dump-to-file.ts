import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { PgToolProcess, PgToolsPort } from '../../integrations/contracts';
import { AtomicFileWriter } from './backup-files';
import { DumpScanner } from './dump-scanner';
import { StreamGarbageCollector } from './stream-garbage-collector';
import { ParallelGzip } from './parallel-gzip';
import { throttled, toolError, Work } from './work';

/** What a dump needs: the tools, the database, where the file goes and how it is compressed. */
export interface DumpJob {
  tools: PgToolsPort;
  database: string;
  directory: string;
  /** The backup's final name (free in the directory and the catalog). */
  fileName: string;
  level: number;
  threads: number;
  /** The database's size, for the progress percentage (0: unknown). */
  databaseSizeBytes: number;
  /** Ends pg_dump's server session (a dump waiting on a lock notices nothing of an abort). */
  endSession(applicationName: string): Promise<unknown>;
}

export interface DumpResult {
  sha256: string;
  bytes: number;
  exit: number;
  scanner: DumpScanner;
}

/** Reports the dump's progress once a second until stopped. */
function progressTimer(work: Work, gzip: ParallelGzip, writer: AtomicFileWriter, scanner: DumpScanner, databaseSizeBytes: number) {
  const report = throttled(work.progress);
  const timer = setInterval(
    () =>
      report({
        phase: 'dump',
        bytesDumped: gzip.inputBytes,
        bytesWritten: writer.bytes,
        rows: Object.values(scanner.rowCounts).reduce((a, b) => a + b, 0),
        percent: databaseSizeBytes ? Math.min(99, Math.round((gzip.inputBytes / databaseSizeBytes) * 100)) : null,
      }),
    1000,
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** pg_dump ended well: exit status 0 and its completion marker seen. */
async function checkEnded(tool: PgToolProcess, scanner: DumpScanner): Promise<number> {
  const exit = await tool.exit;
  if (exit !== 0) throw new Error(toolError('pg_dump', exit, tool.stderr()));
  if (!scanner.complete())
    throw new Error(
      `pg_dump's output ended without its completion marker (${scanner.unterminatedCopy ? `inside the data of ${scanner.unterminatedCopy}` : 'truncated'}); ${toolError('pg_dump', exit, tool.stderr())}`,
    );
  return exit;
}

/**
 * Streams pg_dump → parallel gzip → a temporary file → fsync → rename to the backup's name,
 * recording the SHA-256 and each table's row count on the way. On any failure (or cancel) the
 * tool and its server session are ended and the temporary file removed.
 */
export async function dumpToFile(job: DumpJob, work: Work): Promise<DumpResult> {
  const tempName = `.${job.fileName}.partial-${work.runId.slice(0, 8)}-${randomBytes(3).toString('hex')}`;
  const writer = await AtomicFileWriter.create(job.directory, tempName);
  const scanner = new DumpScanner();
  const bound = new StreamGarbageCollector();
  const onInput = (c: Buffer) => {
    scanner.write(c);
    bound.passed(c.length);
  };
  const gzip = new ParallelGzip({ level: job.level, concurrency: job.threads + 1, onInput });
  const progress = progressTimer(work, gzip, writer, scanner, job.databaseSizeBytes);
  let tool: PgToolProcess | undefined;
  const appName = `erp-ops-backup-${work.runId.slice(0, 8)}`;
  try {
    tool = await job.tools.dump(job.database, work.signal, appName);
    await pipeline(tool.stdout, gzip, writer.sink(), { signal: work.signal });
    const exit = await checkEnded(tool, scanner);
    const { sha256, bytes } = await writer.commit(job.fileName);
    return { sha256, bytes, exit, scanner };
  } catch (error) {
    tool?.abort();
    // pg_dump waiting on a lock notices nothing: end its server session too.
    await job.endSession(appName).catch(() => undefined);
    await writer.discard();
    if (work.signal.aborted) throw new Error('cancelled: the dump was stopped and its partial file removed');
    if (tool && !(error instanceof Error && error.message.startsWith('pg_dump'))) {
      const exit = await Promise.race([tool.exit, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
      throw new Error(`${(error as Error).message}; ${toolError('pg_dump', exit, tool.stderr())}`);
    }
    throw error;
  } finally {
    progress.stop();
  }
}
