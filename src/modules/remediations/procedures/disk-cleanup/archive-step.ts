/** Disk cleanup's log archive: every service's last lines in a new file, never overwriting one. */
import { constants } from 'node:fs';
import { FileHandle, link, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStep } from '../../../../procedures/procedure';
import { withSuffix, zonedParts } from '../../../../common/naming';
import { call, CleanupContext, DiskCleanupDeps, DiskCleanupParameters, explained, logLinesOf, MINUTE } from './shared';

/** The archive file name for a time: logs_backup_YYYYMMDD_HHMMSS.txt in the inventory's time zone. */
export function archiveName(date: Date, timeZone: string): string {
  const p = zonedParts(date, timeZone);
  return `logs_backup_${p.YYYY}${p.MM}${p.DD}_${p.HH}${p.mm}${p.ss}.txt`;
}

const reason = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

/** Creates the archive directory and a new temporary file in it (exclusive: never an existing file). */
async function openTemporary(directory: string, temp: string): Promise<FileHandle> {
  try {
    await mkdir(directory, { recursive: true });
  } catch (error) {
    throw new Error(`cannot create the archive directory ${directory} (${reason(error)})`);
  }
  try {
    return await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o640);
  } catch (error) {
    throw new Error(`cannot write in the archive directory ${directory} (${reason(error)})`);
  }
}

/** Appends every service's last lines, each prefixed with the service's name; an unreadable log is noted, not fatal. */
async function writeServiceLogs(docker: DiskCleanupDeps['docker'], ctx: CleanupContext, handle: FileHandle) {
  let bytes = 0;
  const services: { service: string; container: string; lines: number; error?: string }[] = [];
  for (const s of ctx.inventory.stack.services) {
    if (ctx.signal.aborted) throw new Error('cancelled while archiving logs');
    let text: string;
    try {
      const got = await docker.tailLogs(s.container, logLinesOf(ctx), { ...call(ctx, 2 * MINUTE), timestamps: true });
      text = got.map((line) => `${s.name} | ${line}\n`).join('');
      services.push({ service: s.name, container: s.container, lines: got.length });
    } catch (error) {
      const message = (error as Error).message;
      text = `${s.name} | [archive] the logs of ${s.container} could not be read: ${message}\n`;
      services.push({ service: s.name, container: s.container, lines: 0, error: message });
    }
    const buffer = Buffer.from(text, 'utf8');
    for (let offset = 0; offset < buffer.length;) offset += (await handle.write(buffer, offset, buffer.length - offset)).bytesWritten;
    bytes += buffer.length;
    ctx.progress({ service: s.name, bytes });
  }
  return { bytes, services };
}

/** Gives the finished temporary file its final name: link() never replaces a file, so a name taken meanwhile gets _2, _3 … */
async function publish(directory: string, temp: string, name: string): Promise<string> {
  let fileName = name;
  for (let n = 2; ; n++) {
    try {
      await link(temp, join(directory, fileName));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || n > 999) throw error;
      fileName = withSuffix(name, n);
    }
  }
  await unlink(temp);
  const dir = await open(directory, constants.O_RDONLY);
  await dir.sync().finally(() => dir.close());
  return fileName;
}

/** Writes the archive; no half-written file is ever left under its final name. */
async function writeArchive(docker: DiskCleanupDeps['docker'], ctx: CleanupContext) {
  const directory = ctx.inventory.cleanup.archiveDirectory;
  const name = archiveName(ctx.now(), ctx.inventory.timezone);
  const temp = join(directory, `.${name}.${ctx.runId}.tmp`);
  let handle: FileHandle | undefined = await openTemporary(directory, temp);
  try {
    const { bytes, services } = await writeServiceLogs(docker, ctx, handle);
    await handle.sync();
    await handle.close();
    handle = undefined;
    const fileName = await publish(directory, temp, name);
    return {
      directory,
      fileName,
      path: join(directory, fileName),
      bytesWritten: bytes,
      linesPerService: logLinesOf(ctx),
      services,
      reclaimedBytes: 0,
    };
  } finally {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
  }
}

export const archiveLogsStep = ({ docker }: Pick<DiskCleanupDeps, 'docker'>) =>
  defineStep<DiskCleanupParameters>({
    id: 'archive-logs',
    title: "Archive every service's last log lines to the archive directory (a new file, never overwritten)",
    timeoutMs: 10 * MINUTE,
    plan: async (ctx) => ({
      directory: ctx.inventory.cleanup.archiveDirectory,
      fileName: archiveName(ctx.now(), ctx.inventory.timezone),
      linesPerService: logLinesOf(ctx),
      services: ctx.inventory.stack.services.map((s) => ({ service: s.name, container: s.container })),
    }),
    run: (ctx) =>
      explained(
        'archiving the logs',
        'set cleanup.archiveDirectory in the inventory to a writable directory with room (no half-written archive is left under its final name)',
        () => writeArchive(docker, ctx),
      ),
  });
