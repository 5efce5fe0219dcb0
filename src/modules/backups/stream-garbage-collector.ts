import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

let collector: Gc | null | undefined;

/** V8's gc(), obtained once without starting node with --expose-gc (null if unavailable). */
function gc(): Gc | null {
  if (collector !== undefined) return collector;
  try {
    setFlagsFromString('--expose-gc');
    collector = runInNewContext('gc') as Gc;
  } catch {
    collector = null;
  }
  return collector;
}

/**
 * Keeps the garbage of a long stream bounded. Every chunk read from a pipe or socket is a
 * new buffer that dies at once; V8 frees such buffers only after a young-generation
 * collection, which their tiny JS wrappers rarely trigger, so up to its external-memory
 * limit (tens of MB) can pile up. A minor collection (a scavenge: about a millisecond)
 * every `everyBytes` of data keeps that pile under `everyBytes`, whatever the stream's size.
 */
export class StreamGarbageCollector {
  private sinceLast = 0;
  private readonly collect = gc();

  constructor(private readonly everyBytes = 16 * 1024 * 1024) {}

  /** Counts bytes that passed; collects the young generation when the bound is reached. */
  passed(bytes: number): void {
    this.sinceLast += bytes;
    if (this.sinceLast < this.everyBytes || !this.collect) return;
    this.sinceLast = 0;
    this.collect({ type: 'minor' });
  }
}
