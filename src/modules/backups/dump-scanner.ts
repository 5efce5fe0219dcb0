/**
 * Reads a plain-SQL pg_dump stream as it passes (no copy of the data): counts the rows of
 * every COPY block (one line per row in COPY text format, ended by a line "\.") and keeps
 * the stream's last bytes to check pg_dump's completion marker. Constant memory.
 */
const NL = 0x0a;
const HEAD_LIMIT = 512;
const TAIL_LIMIT = 512;
const COMPLETE = '-- PostgreSQL database dump complete';
/** A table name as pg_dump writes it: schema.table, each plain or double-quoted. */
const QUALIFIED = /^((?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\.(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*))\s/;

export class DumpScanner {
  readonly rowCounts: Record<string, number> = {};
  bytes = 0;
  private inCopy = false;
  private table = '';
  private rows = 0;
  /** First bytes of the current line (enough to recognise COPY and "\."). */
  private head: Buffer[] = [];
  private headLength = 0;
  private lineLength = 0;
  private first = -1;
  private second = -1;
  private recent: Buffer[] = [];
  private recentLength = 0;
  /** A COPY block that never ended (a truncated dump). */
  get unterminatedCopy(): string | null {
    return this.inCopy ? this.table : null;
  }

  write(chunk: Buffer): void {
    this.bytes += chunk.length;
    // The last chunks (views, no copy) holding at least the stream's last TAIL_LIMIT bytes.
    this.recent.push(chunk);
    this.recentLength += chunk.length;
    while (this.recent.length > 1 && this.recentLength - this.recent[0].length >= TAIL_LIMIT)
      this.recentLength -= this.recent.shift()!.length;
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      if (this.inCopy) {
        pos = this.copyRows(chunk, pos);
        continue;
      }
      const nl = chunk.indexOf(NL, pos);
      const end = nl < 0 ? len : nl;
      if (this.headLength < HEAD_LIMIT) this.keep(chunk, pos, Math.min(end, pos + HEAD_LIMIT - this.headLength));
      this.lineLength += end - pos;
      if (nl < 0) break;
      this.endLine();
      pos = nl + 1;
    }
  }

  /**
   * Inside a COPY block (millions of lines): counts rows with numbers only (no per-line
   * objects) until the block's "\." line or the chunk's end; returns where it stopped.
   */
  private copyRows(chunk: Buffer, from: number): number {
    const len = chunk.length;
    let pos = from;
    while (pos < len) {
      const nl = chunk.indexOf(NL, pos);
      const end = nl < 0 ? len : nl;
      // The line's first two bytes (it may have begun in an earlier chunk).
      if (this.lineLength === 0) {
        this.first = end > pos ? chunk[pos] : -1;
        this.second = end > pos + 1 ? chunk[pos + 1] : -1;
      } else if (this.lineLength === 1 && end > pos) {
        this.second = chunk[pos];
      }
      this.lineLength += end - pos;
      if (nl < 0) return len;
      pos = nl + 1;
      const terminator = this.lineLength === 2 && this.first === 0x5c && this.second === 0x2e;
      this.lineLength = 0;
      if (terminator) {
        this.inCopy = false;
        this.rowCounts[this.table] = (this.rowCounts[this.table] ?? 0) + this.rows;
        return pos;
      }
      this.rows++;
    }
    return pos;
  }

  private keep(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.head.push(chunk.subarray(from, to));
    this.headLength += to - from;
  }

  private endLine(): void {
    const length = this.lineLength;
    const head = this.head.length === 1 ? this.head[0] : Buffer.concat(this.head);
    this.head = [];
    this.headLength = 0;
    this.lineLength = 0;
    if (length < 5 || head[0] !== 0x43 || head.toString('latin1', 0, 5) !== 'COPY ') return;
    const text = head.toString('utf8');
    const match = QUALIFIED.exec(text.slice(5));
    if (!match) return;
    if (length === head.length && !text.endsWith(' FROM stdin;')) return;
    this.inCopy = true;
    this.table = match[1];
    this.rows = 0;
  }

  /** pg_dump ended normally: its completion marker is among the last lines. */
  complete(): boolean {
    const tail = Buffer.concat(this.recent).subarray(-TAIL_LIMIT);
    return !this.inCopy && dumpComplete(tail);
  }
}

/** The last bytes of a plain dump hold pg_dump's completion marker. */
export function dumpComplete(tail: Buffer): boolean {
  return tail.toString('utf8').includes(COMPLETE);
}
