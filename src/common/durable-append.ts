import { appendFileSync, closeSync, fsyncSync, openSync } from 'node:fs';

/** Appends a line to a file (created with `mode`) and syncs it to disk before returning. */
export function appendLineDurably(path: string, line: string, mode = 0o600): void {
  const fd = openSync(path, 'a', mode);
  try {
    appendFileSync(fd, `${line}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
