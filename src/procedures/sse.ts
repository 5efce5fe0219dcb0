import type { ServerResponse } from 'node:http';

/** A Fastify reply (or a bare Node response): what the SSE writer needs of it. */
interface ReplyLike {
  raw?: ServerResponse;
  hijack?: () => void;
  getHeaders?: () => Record<string, unknown>;
}

/** What streamSse reads: events with a type, a JSON body and an id; return() stops it. */
export type SseFeed = AsyncIterableIterator<{ type: string; data: unknown; id: number | string }>;

/** One SSE event: `event: <type>\ndata: <json>\nid: <n>\n\n`. */
export function sseEvent(type: string, data: unknown, id: number | string): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\nid: ${id}\n\n`;
}

/**
 * Streams a feed as Server-Sent Events on the raw response (taken over from Fastify, so
 * that neither the adapter nor an interceptor ends it), with a `: keep-alive` comment
 * every `heartbeatMs`. Ends with the feed; a client that goes away ends the feed.
 */
export function streamSse(feed: SseFeed, reply: ReplyLike, heartbeatMs: number): void {
  const raw = (reply.raw ?? reply) as ServerResponse;
  // Headers set so far (request id, security headers, CORS) go out with the stream.
  const headers = { ...(reply.getHeaders?.() ?? {}) } as Record<string, string>;
  reply.hijack?.();
  raw.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
    connection: 'keep-alive',
  });
  raw.flushHeaders();
  const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), heartbeatMs);
  heartbeat.unref();
  raw.on('close', () => {
    clearInterval(heartbeat);
    void feed.return?.();
  });
  void (async () => {
    try {
      for await (const event of feed) raw.write(sseEvent(event.type, event.data, event.id));
    } finally {
      clearInterval(heartbeat);
      raw.end();
    }
  })();
}
