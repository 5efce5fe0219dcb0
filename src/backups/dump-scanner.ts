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
  private tailBuf = Buffer.alloc(0);
  /** A COPY block that never ended (a truncated dump). */
  get unterminatedCopy(): string | null {
    return this.inCopy ? this.table : null;
  }

  write(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.tailBuf = chunk.length >= TAIL_LIMIT ? Buffer.from(chunk.subarray(chunk.length - TAIL_LIMIT)) : Buffer.concat([this.tailBuf, chunk]).subarray(-TAIL_LIMIT);
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      const nl = chunk.indexOf(NL, pos);
      const end = nl < 0 ? len : nl;
      if (this.inCopy) {
        // Rows: only a line of exactly "\." matters; keep its first 3 bytes at most.
        if (this.lineLength < 3) this.keep(chunk, pos, Math.min(end, pos + 3 - this.lineLength));
      } else if (this.headLength < HEAD_LIMIT) {
        this.keep(chunk, pos, Math.min(end, pos + HEAD_LIMIT - this.headLength));
      }
      this.lineLength += end - pos;
      if (nl < 0) break;
      this.endLine();
      pos = nl + 1;
    }
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
    if (this.inCopy) {
      if (length === 2 && head[0] === 0x5c && head[1] === 0x2e) {
        this.inCopy = false;
        this.rowCounts[this.table] = (this.rowCounts[this.table] ?? 0) + this.rows;
      } else {
        this.rows++;
      }
      return;
    }
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
    return !this.inCopy && this.tailBuf.toString('utf8').includes(COMPLETE);
  }
}

export function isQualifiedTable(name: string): boolean {
  return QUALIFIED.test(`${name} `) && QUALIFIED.exec(`${name} `)![1] === name;
}
