import { request } from 'node:http';

export interface SseEvent {
  event: string;
  data: any;
  id: string;
}

export interface SseStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body of a refusal (not 200). */
  body?: any;
  events: SseEvent[];
  comments: string[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Waits until an event matches (or the stream ends, or `ms` pass). */
  waitFor(match: (e: SseEvent) => boolean, ms?: number): Promise<SseEvent | undefined>;
  close(): void;
}

/** Opens an SSE stream and parses it as it comes (frames of `field: value` lines); `headers` go with the request. */
export function openSse(url: string, token?: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers: { Accept: 'text/event-stream', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers } },
      (res) => {
        const events: SseEvent[] = [];
        const comments: string[] = [];
        const waiters = new Set<() => void>();
        let buffer = '';
        let endStream!: () => void;
        const ended = new Promise<void>((r) => (endStream = r));
        const stream: SseStream = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          events,
          comments,
          ended,
          async waitFor(match, ms = 10_000) {
            const end = Date.now() + ms;
            let done = false;
            void ended.then(() => (done = true));
            while (Date.now() < end) {
              const found = events.find(match);
              if (found || done) return found;
              await new Promise<void>((r) => {
                const wake = () => {
                  waiters.delete(wake);
                  r();
                };
                waiters.add(wake);
                setTimeout(wake, 100);
              });
            }
            return events.find(match);
          },
          close: () => req.destroy(),
        };
        res.setEncoding('utf8');
        if (res.statusCode !== 200) {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => {
            stream.body = text ? JSON.parse(text) : undefined;
            endStream();
            resolve(stream);
          });
          return;
        }
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            if (frame.startsWith(':')) {
              comments.push(frame.slice(1).trim());
              continue;
            }
            const fields: Record<string, string> = {};
            for (const line of frame.split('\n')) {
              const at = line.indexOf(': ');
              fields[line.slice(0, at)] = line.slice(at + 2);
            }
            events.push({ event: fields.event, data: JSON.parse(fields.data), id: fields.id });
          }
          for (const wake of [...waiters]) wake();
        });
        res.on('end', endStream);
        res.on('close', endStream);
        resolve(stream);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
