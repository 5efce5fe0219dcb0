import { Transform, TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { gzip, constants } from 'node:zlib';

const gzipAsync = promisify(gzip);

export interface ParallelGzipOptions {
  /** gzip level 1–9 (gzip's default is 6). */
  level: number;
  /** Bytes of input per gzip member. */
  blockSize?: number;
  /** Members compressed at once (zlib runs them on libuv's thread pool). */
  concurrency: number;
  /** Sees every input chunk as it passes (row counting, completion marker). */
  onInput?(chunk: Buffer): void;
}

/**
 * gzip on every core: the input is cut into blocks, each compressed on its own as a
 * complete gzip member on the thread pool, members written in order. Concatenated members
 * are one valid .gz file (RFC 1952 §2.2; zcat and gunzip read them all). At most
 * `concurrency` blocks are in flight: memory stays constant whatever the size.
 */
export class ParallelGzip extends Transform {
  private readonly blockSize: number;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private readonly inFlight: Promise<Buffer>[] = [];
  inputBytes = 0;
  outputBytes = 0;

  constructor(private readonly options: ParallelGzipOptions) {
    super({ highWaterMark: 1 });
    this.blockSize = options.blockSize ?? 2 * 1024 * 1024;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.inputBytes += chunk.length;
    this.options.onInput?.(chunk);
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    if (this.pendingLength < this.blockSize) return callback();
    this.dispatch().then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    (async () => {
      if (this.pendingLength > 0 || this.outputBytes === 0 && this.inFlight.length === 0) this.startBlock();
      while (this.inFlight.length) this.pushMember(await this.inFlight.shift()!);
    })().then(() => callback(), callback);
  }

  private startBlock(): void {
    const block = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingLength);
    this.pending = [];
    this.pendingLength = 0;
    const member = gzipAsync(block, { level: this.options.level, strategy: constants.Z_DEFAULT_STRATEGY });
    member.catch(() => undefined);
    this.inFlight.push(member);
  }

  /** Starts the block; when the pool is full, waits for the oldest member and writes it. */
  private async dispatch(): Promise<void> {
    this.startBlock();
    while (this.inFlight.length >= this.options.concurrency) this.pushMember(await this.inFlight.shift()!);
  }

  private pushMember(member: Buffer): void {
    this.outputBytes += member.length;
    this.push(member);
  }
}
