/**
 * Reads a Prometheus API answer to /api/v1/query_range without building an object per sample:
 * the sample pairs of data.result[].values ([unix seconds, "value"]) go straight into two
 * Float64Arrays shared by the answer's series (each series a view of its part); everything else (the envelope, each series' labels, warnings) is ordinary
 * JSON read with JSON.parse. A 90-day hourly answer of a few hundred series holds millions of
 * pairs, which JSON.parse would turn into as many arrays and strings (seconds of CPU and garbage).
 * Pure: the text in, the envelope out; anything that is not JSON of that shape is an error.
 */

export interface MatrixSeries {
  metric: Record<string, string>;
  /** Evaluation times, unix seconds. */
  times: Float64Array;
  /** Values as numbers (NaN, ±Inf as such). */
  values: Float64Array;
}

export interface MatrixEnvelope {
  status?: unknown;
  errorType?: unknown;
  error?: unknown;
  warnings?: unknown;
  data?: { resultType?: unknown; result?: MatrixSeries[] | unknown };
}

export class MatrixSyntaxError extends Error {}

/** A Prometheus sample value ("1.5", "NaN", "+Inf", "-Inf") as a number. */
export function parsePromValue(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return Number.NaN;
  switch (value) {
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
    case 'NaN':
      return Number.NaN;
    default: {
      const n = Number(value);
      return value.trim() === '' ? Number.NaN : n;
    }
  }
}

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

/** Exact powers of ten as doubles (10^0 … 10^22). */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));
const TWO_53 = 2 ** 53;

/**
 * Two columns of doubles shared by every series of one answer: a series writes at the end and
 * keeps a view of what it wrote, so an answer of hundreds of series allocates a few arrays, off
 * the JS heap, instead of two per series.
 */
class Columns {
  private times: Float64Array;
  private values: Float64Array;
  /** Where the series being read starts, and how many points it has so far. */
  private start = 0;
  private n = 0;

  constructor(private readonly reserve: number) {
    this.times = new Float64Array(Math.max(1024, reserve * 8));
    this.values = new Float64Array(this.times.length);
  }

  /** Starts a series with room for `reserve` points (more grow it). */
  begin(): void {
    this.start += this.n;
    this.n = 0;
    if (this.start + this.reserve > this.times.length) this.move(this.reserve);
  }

  push(t: number, v: number): void {
    if (this.start + this.n === this.times.length) this.move(Math.max(this.reserve, this.n * 2));
    const at = this.start + this.n++;
    this.times[at] = t;
    this.values[at] = v;
  }

  /** The current series' points, as views. */
  end(): { times: Float64Array; values: Float64Array } {
    return { times: this.times.subarray(this.start, this.start + this.n), values: this.values.subarray(this.start, this.start + this.n) };
  }

  /** New arrays for the series being read (its points so far copied), with room for `room` more. */
  private move(room: number): void {
    const size = Math.max(this.times.length * 2, (this.n + room) * 2);
    const times = new Float64Array(size);
    const values = new Float64Array(size);
    times.set(this.times.subarray(this.start, this.start + this.n));
    values.set(this.values.subarray(this.start, this.start + this.n));
    this.times = times;
    this.values = values;
    this.start = 0;
  }
}

class Reader {
  i = 0;
  private readonly latin1: (start: number, end: number) => string;
  constructor(private readonly s: Uint8Array) {
    const buffer = Buffer.from(s.buffer, s.byteOffset, s.byteLength);
    this.latin1 = (start, end) => buffer.toString('latin1', start, end);
    this.utf8 = (start, end) => buffer.toString('utf8', start, end);
  }
  private readonly utf8: (start: number, end: number) => string;

  fail(what: string): never {
    throw new MatrixSyntaxError(`${what} at character ${this.i}`);
  }

  ws(): void {
    const s = this.s;
    let i = this.i;
    for (let c = s[i]; c === 32 || c === 10 || c === 13 || c === 9; c = s[++i]);
    this.i = i;
  }

  peek(): number {
    this.ws();
    return this.s[this.i];
  }

  take(code: number, what: string): void {
    if (this.peek() !== code) this.fail(`expected ${what}`);
    this.i++;
  }

  /** After a member or element: true when another follows (a comma was read), false at the closing code. */
  more(close: number): boolean {
    const c = this.peek();
    if (c === COMMA) {
      this.i++;
      return true;
    }
    if (c === close) {
      this.i++;
      return false;
    }
    return this.fail(`expected , or ${String.fromCharCode(close)}`);
  }

  /** The end (exclusive) of the string literal starting at this.i (a quote). */
  private stringEnd(): { end: number; escaped: boolean } {
    const s = this.s;
    let escaped = false;
    for (let i = this.i + 1; i < s.length; i++) {
      const c = s[i];
      if (c === QUOTE) return { end: i + 1, escaped };
      if (c === BACKSLASH) {
        escaped = true;
        i++;
      }
    }
    return this.fail('unterminated string');
  }

  string(): string {
    if (this.peek() !== QUOTE) this.fail('expected a string');
    const { end, escaped } = this.stringEnd();
    const text = escaped ? (JSON.parse(this.utf8(this.i, end)) as string) : this.utf8(this.i + 1, end - 1);
    this.i = end;
    return text;
  }

  /** Any JSON value, read with JSON.parse (used for the small parts: labels, warnings). */
  value(): unknown {
    const start = (this.ws(), this.i);
    this.skip();
    try {
      return JSON.parse(this.utf8(start, this.i));
    } catch {
      return this.fail('invalid JSON value');
    }
  }

  /** Steps over one JSON value of any kind. */
  skip(): void {
    const s = this.s;
    const c = this.peek();
    if (c === QUOTE) {
      this.i = this.stringEnd().end;
      return;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      let depth = 0;
      for (let i = this.i; i < s.length; i++) {
        const d = s[i];
        if (d === QUOTE) {
          this.i = i;
          i = this.stringEnd().end - 1;
        } else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
        else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
          if (--depth === 0) {
            this.i = i + 1;
            return;
          }
        }
      }
      this.fail('unterminated object or array');
    }
    // a number or a literal
    let i = this.i;
    for (
      let d = s[i];
      i < s.length && d !== COMMA && d !== CLOSE_BRACE && d !== CLOSE_BRACKET && d !== 32 && d !== 10 && d !== 13 && d !== 9;
      d = s[++i]
    );
    if (i === this.i) this.fail('expected a value');
    this.i = i;
  }

  /**
   * A decimal number at this.i up to `stop` (exclusive end found by the caller), without making
   * a string: up to 2^53 in its digits and 10^±22 in its scale it is exact (one rounding, as
   * Number() does); with more digits (Prometheus writes up to 17) the digits beyond 2^53 cost at
   * most a few units in the last place (a relative error below 1e-15); anything else (exponents
   * beyond that, hex, Infinity) goes to Number(). NaN when it is not a number.
   */
  private decimal(start: number, stop: number): number {
    const s = this.s;
    let i = start;
    let negative = false;
    if (s[i] === 45 || s[i] === 43) negative = s[i++] === 45;
    let mantissa = 0;
    let digits = 0;
    let scale = 0;
    let exact = true;
    for (let d = s[i]; d >= 48 && d <= 57; d = s[++i], digits++) mantissa = mantissa * 10 + (d - 48);
    if (s[i] === 46) {
      for (let d = s[++i]; d >= 48 && d <= 57; d = s[++i], digits++, scale--) mantissa = mantissa * 10 + (d - 48);
    }
    if (mantissa > TWO_53) exact = false;
    if (s[i] === 101 || s[i] === 69) {
      let sign = 1;
      let exponent = 0;
      let expDigits = 0;
      if (s[++i] === 45 || s[i] === 43) sign = s[i++] === 45 ? -1 : 1;
      for (let d = s[i]; d >= 48 && d <= 57; d = s[++i], expDigits++) exponent = exponent * 10 + (d - 48);
      if (expDigits === 0) return Number.NaN;
      scale += sign * exponent;
    }
    if (digits === 0 || i !== stop) return Number(this.latin1(start, stop));
    if (scale < -22 || scale > 22 || (!exact && digits > 17)) return Number(this.latin1(start, stop));
    const value = scale < 0 ? mantissa / POW10[-scale] : mantissa * POW10[scale];
    return negative ? -value : value;
  }

  /** A JSON number, as a number. */
  number(): number {
    const s = this.s;
    const start = (this.ws(), this.i);
    let i = start;
    for (let d = s[i]; (d >= 48 && d <= 57) || d === 45 || d === 43 || d === 46 || d === 101 || d === 69; d = s[++i]);
    const n = i > start ? this.decimal(start, i) : Number.NaN;
    if (Number.isNaN(n)) this.fail('expected a number');
    this.i = i;
    return n;
  }

  /** A sample value: a string ("1.5", "NaN", "+Inf") or, from other servers, a bare number. */
  sampleValue(): number {
    if (this.peek() !== QUOTE) return this.number();
    const s = this.s;
    const start = this.i + 1;
    let i = start;
    for (let c = s[i]; c !== QUOTE && c !== BACKSLASH && i < s.length; c = s[++i]);
    if (s[i] !== QUOTE) return parsePromValue(this.string());
    this.i = i + 1;
    const c = s[start];
    // NaN, Inf, +Inf, -Inf, and the empty string, by their words
    if (c === 78 || c === 73 || i === start || ((c === 43 || c === 45) && s[start + 1] === 73))
      return parsePromValue(this.latin1(start, i));
    return this.decimal(start, i);
  }

  /** [[t, "v"], …] into two arrays. */
  pairs(into: Columns): void {
    this.take(OPEN_BRACKET, '[');
    if (this.peek() === CLOSE_BRACKET) {
      this.i++;
      return;
    }
    const s = this.s;
    for (;;) {
      // Prometheus writes each pair as [1796365032,"2182.90"] (no spaces): read that shape in
      // place; anything else goes through the general steps below.
      let i = this.i;
      if (s[i] === OPEN_BRACKET) {
        const tStart = ++i;
        for (let d = s[i]; (d >= 48 && d <= 57) || d === 46; d = s[++i]);
        if (s[i] === COMMA && s[i + 1] === QUOTE && i > tStart) {
          const tEnd = i;
          const vStart = i + 2;
          i = vStart;
          for (let d = s[i]; (d >= 48 && d <= 57) || d === 46 || d === 45 || d === 101 || d === 69 || d === 43; d = s[++i]);
          if (s[i] === QUOTE && s[i + 1] === CLOSE_BRACKET && i > vStart && s[vStart] !== 43) {
            into.push(this.decimal(tStart, tEnd), this.decimal(vStart, i));
            i += 2;
            const next = s[i];
            this.i = i + 1;
            if (next === COMMA) continue;
            if (next === CLOSE_BRACKET) return;
            this.i = i;
            if (!this.more(CLOSE_BRACKET)) return;
            continue;
          }
        }
      }
      this.take(OPEN_BRACKET, '[');
      const t = this.number();
      this.take(COMMA, ',');
      into.push(t, this.sampleValue());
      this.take(CLOSE_BRACKET, ']');
      if (!this.more(CLOSE_BRACKET)) return;
    }
  }

  /** The members of an object: calls member(key) with the reader at the value, which it must consume. */
  object(member: (key: string) => void): void {
    this.take(OPEN_BRACE, '{');
    if (this.peek() === CLOSE_BRACE) {
      this.i++;
      return;
    }
    do {
      const key = this.string();
      this.take(COLON, ':');
      member(key);
    } while (this.more(CLOSE_BRACE));
  }

  end(): void {
    this.ws();
    if (this.i !== this.s.length) this.fail('unexpected text after the JSON value');
  }
}

function readSeries(r: Reader, columns: Columns): MatrixSeries {
  let metric: Record<string, string> = {};
  columns.begin();
  r.object((key) => {
    if (key === 'metric') {
      const value = r.value();
      if (value && typeof value === 'object' && !Array.isArray(value)) metric = { ...(value as Record<string, string>) };
    } else if (key === 'values' && r.peek() === OPEN_BRACKET) r.pairs(columns);
    else r.skip(); // "histograms" (native histograms) and anything newer
  });
  return { metric, ...columns.end() };
}

/**
 * Parses a query_range answer (its bytes, UTF-8); throws MatrixSyntaxError when it is not JSON of
 * that shape. `capacity`: the points a series can have (the query's steps).
 */
export function parseMatrixAnswer(body: Uint8Array | string, capacity = 64): MatrixEnvelope {
  const r = new Reader(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  const envelope: MatrixEnvelope = {};
  if (r.peek() !== OPEN_BRACE) r.fail('expected a JSON object');
  r.object((key) => {
    if (key === 'data' && r.peek() === OPEN_BRACE) {
      const data: NonNullable<MatrixEnvelope['data']> = {};
      r.object((dataKey) => {
        if (dataKey === 'result' && r.peek() === OPEN_BRACKET) {
          const result: MatrixSeries[] = [];
          const columns = new Columns(capacity);
          r.take(OPEN_BRACKET, '[');
          if (r.peek() === CLOSE_BRACKET) r.i++;
          else
            do {
              if (r.peek() === OPEN_BRACE) result.push(readSeries(r, columns));
              else r.skip();
            } while (r.more(CLOSE_BRACKET));
          data.result = result;
        } else if (dataKey === 'resultType') data.resultType = r.value();
        else r.skip();
      });
      envelope.data = data;
    } else if (key === 'status' || key === 'errorType' || key === 'error' || key === 'warnings' || key === 'data') {
      envelope[key as 'status'] = r.value();
    } else r.skip();
  });
  r.end();
  return envelope;
}
