/**
 * Group commit: items submitted while a batch is being written wait in a queue and are
 * written together by the next one (one transaction and a few statements for many items
 * instead of several statements each). Each submit resolves only once its batch has been
 * written. A batch the database refused (an error with a SQLSTATE) is retried item by item, so
 * that one item it refuses does not take the others with it; each item then gets its own answer
 * or error. Any other failure (the database unreachable) fails the whole batch at once: retrying
 * each item would only make every caller wait for the connection timeout again.
 */
export function refusedByDatabase(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
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
          if (batch.length === 1 || !refusedByDatabase(error)) {
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
