/**
 * Group commit: items submitted while a batch is being written wait in a queue and are
 * written together by the next one (one transaction and a few statements for many items
 * instead of several statements each). Each submit resolves only once its batch has been
 * written. A batch that fails is retried item by item, so that one item that cannot be written
 * (refused by the database, or breaking the code that writes it) does not take the others with
 * it; each item then gets its own answer or error. Except when the database cannot be reached,
 * or a statement timed out: then the whole batch fails at once, since retrying each item would
 * only make every caller wait as long again, one after another.
 */
export function databaseUnreachable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    // Node's socket errors (ECONNREFUSED, ETIMEDOUT, …); SQLSTATE class 08 (connection
    // exception) and 57P01–57P03 (the server shutting down or not yet accepting connections).
    if (/^E[A-Z]+$/.test(code) || /^08/.test(code) || /^57P0[1-3]$/.test(code)) return true;
  }
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED/i.test(message);
}

/** A statement that timed out or a lock not granted: retrying each item would only wait as long again, item after item. */
function timedOut(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '57014' || code === '55P03';
}

export class Batcher<I, O> {
  private readonly queue: { item: I; resolve: (out: O) => void; reject: (error: unknown) => void }[] = [];
  private draining = false;

  constructor(
    /** Writes the items in order; answers one output per item, in the same order. */
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxBatch: number,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const out = await this.write(batch.map((w) => w.item));
          batch.forEach((w, i) => w.resolve(out[i]));
        } catch (error) {
          if (batch.length === 1 || databaseUnreachable(error) || timedOut(error)) {
            for (const w of batch) w.reject(error);
            continue;
          }
          for (const w of batch) {
            try {
              w.resolve((await this.write([w.item]))[0]);
            } catch (single) {
              w.reject(single);
            }
          }
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
