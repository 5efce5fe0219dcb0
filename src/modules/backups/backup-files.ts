import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { FileHandle, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { withSuffix, zonedParts } from '../../common/naming';

export { withSuffix, zonedParts } from '../../common/naming';

/** The inventory's naming ({YYYY} {MM} {DD} {HH} {mm} {ss}) for a date. */
export function backupName(pattern: string, date: Date, timeZone: string): string {
  const parts = zonedParts(date, timeZone);
  return pattern.replace(/\{(YYYY|MM|DD|HH|mm|ss)\}/g, (_, token: keyof typeof parts) => parts[token]);
}

/** Does a file name match the inventory's naming (any date)? Unknown backups are found with it. */
export function namingPattern(pattern: string): RegExp {
  const digits: Record<string, string> = { YYYY: '\\d{4}', MM: '\\d{2}', DD: '\\d{2}', HH: '\\d{2}', mm: '\\d{2}', ss: '\\d{2}' };
  let source = '';
  for (const piece of pattern.split(/(\{(?:YYYY|MM|DD|HH|mm|ss)\})/)) {
    const token = /^\{(\w+)\}$/.exec(piece)?.[1];
    source += token && digits[token] ? digits[token] : piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  // A suffix (_2, _3 …) may come before the extensions.
  const ext = /((?:\.[A-Za-z0-9]+)*)$/.exec(pattern)![1];
  const escapedExt = ext.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const base = source.slice(0, source.length - escapedExt.length);
  return new RegExp(`^${base}(?:_\\d+)?${escapedExt}$`);
}

/** A file name that is free in the directory: the name, else name_2, name_3 … (never overwrite). */
export async function freeName(directory: string, name: string, taken: Set<string>): Promise<string> {
  for (let n = 1; n < 1000; n++) {
    const candidate = n === 1 ? name : withSuffix(name, n);
    if (taken.has(candidate)) continue;
    try {
      await stat(join(directory, candidate));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return candidate;
      throw error;
    }
  }
  throw new Error(`no free name for ${name} in ${directory}`);
}

/**
 * Writes a stream to a temporary file in the directory, hashing as it goes; `commit()`
 * fsyncs, renames to the final name and fsyncs the directory; `discard()` removes it.
 */
export class AtomicFileWriter {
  readonly hash = createHash('sha256');
  bytes = 0;
  private constructor(
    readonly directory: string,
    readonly tempName: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(directory: string, tempName: string): Promise<AtomicFileWriter> {
    const handle = await open(join(directory, tempName), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o640);
    return new AtomicFileWriter(directory, tempName, handle);
  }

  sink(): Writable {
    return new Writable({
      highWaterMark: 1,
      write: (chunk: Buffer, _encoding, callback) => {
        this.hash.update(chunk);
        this.bytes += chunk.length;
        this.handle.write(chunk).then(() => callback(), callback);
      },
    });
  }

  async commit(finalName: string): Promise<{ sha256: string; bytes: number }> {
    await this.handle.sync();
    await this.handle.close();
    await rename(join(this.directory, this.tempName), join(this.directory, finalName));
    const dir = await open(this.directory, constants.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    return { sha256: this.hash.digest('hex'), bytes: this.bytes };
  }

  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await unlink(join(this.directory, this.tempName)).catch(() => undefined);
  }
}

export async function sha256File(path: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  await pipeline(
    createReadStream(path, { highWaterMark: 1024 * 1024 }),
    new Writable({
      write(chunk: Buffer, _e, callback) {
        hash.update(chunk);
        bytes += chunk.length;
        callback();
      },
    }),
    { signal },
  );
  return { sha256: hash.digest('hex'), bytes };
}

export interface DirectoryFile {
  name: string;
  bytes: number;
  modifiedAt: Date;
}

/** Regular files of the backup directory (not temporary ones). */
export async function listDirectory(directory: string): Promise<DirectoryFile[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files: DirectoryFile[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const s = await stat(join(directory, name)).catch(() => null);
    if (s?.isFile()) files.push({ name, bytes: s.size, modifiedAt: s.mtime });
  }
  return files;
}
