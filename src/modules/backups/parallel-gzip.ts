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
  /** The block being filled (from a small pool reused across blocks: constant memory, little garbage). */
  private block: Buffer | null = null;
  private pendingLength = 0;
  private readonly pool: Buffer[] = [];
  private readonly inFlight: { member: Promise<Buffer>; block: Buffer }[] = [];
  inputBytes = 0;
  outputBytes = 0;

  constructor(private readonly options: ParallelGzipOptions) {
    super({ highWaterMark: 1 });
    this.blockSize = options.blockSize ?? 2 * 1024 * 1024;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.inputBytes += chunk.length;
    this.options.onInput?.(chunk);
    // Fast path (most chunks): the chunk fits in the current block; no promise, no copy of state.
    if (this.block && this.pendingLength + chunk.length < this.blockSize) {
      chunk.copy(this.block, this.pendingLength);
      this.pendingLength += chunk.length;
      return callback();
    }
    this.fill(chunk).then(() => callback(), callback);
  }

  /** Copies the chunk into blocks; each full block goes to compression. */
  private async fill(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      this.block ??= this.pool.pop() ?? Buffer.allocUnsafeSlow(this.blockSize);
      const copied = chunk.copy(this.block, this.pendingLength, offset);
      offset += copied;
      this.pendingLength += copied;
      if (this.pendingLength === this.blockSize) await this.dispatch();
    }
  }

  override _flush(callback: TransformCallback): void {
    (async () => {
      if (this.pendingLength > 0 || (this.outputBytes === 0 && this.inFlight.length === 0)) this.startBlock();
      while (this.inFlight.length) await this.writeOldest();
    })().then(() => callback(), callback);
  }

  private startBlock(): void {
    const block = this.block ?? Buffer.alloc(0);
    const input = block.subarray(0, this.pendingLength);
    this.block = null;
    this.pendingLength = 0;
    const member = gzipAsync(input, { level: this.options.level, strategy: constants.Z_DEFAULT_STRATEGY });
    member.catch(() => undefined);
    this.inFlight.push({ member, block });
  }

  private async writeOldest(): Promise<void> {
    const { member, block } = this.inFlight.shift()!;
    const output = await member;
    if (block.length === this.blockSize) this.pool.push(block);
    this.pushMember(output);
  }

  /** Starts the block; when the pool is full, waits for the oldest member and writes it. */
  private async dispatch(): Promise<void> {
    this.startBlock();
    while (this.inFlight.length >= this.options.concurrency) await this.writeOldest();
  }

  private pushMember(member: Buffer): void {
    this.outputBytes += member.length;
    this.push(member);
  }
}
