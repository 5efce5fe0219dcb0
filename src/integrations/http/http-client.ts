/**
 * One HTTP request under a deadline with global fetch (undici): the timeout and the caller's
 * signal abort the request and the reading of its body; the body is read up to a bound;
 * socket errors become IntegrationErrors. Used by the HTTP probe, Prometheus and
 * Elasticsearch adapters. Credentials in a URL are sent as Basic auth and never appear in
 * a message (fetch refuses URLs with credentials).
 */
import { maskUrl } from '../../common/secrets';
import { CallOptions, describeCode, errorCode, errorText, IntegrationError, socketFailure } from '../integration-error';
import { Deadline, withDeadline } from './deadline';

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'HEAD';
  headers?: Record<string, string>;
  body?: string | URLSearchParams;
  /** The body is read up to this many bytes; the rest is dropped (truncated: true). */
  maxBytes: number;
  /** Follow redirects (default: no, a 3xx is an answer). */
  followRedirects?: boolean;
  /** Keep the body as bytes (answer.bytes) and leave answer.text empty: for a caller that parses bytes. */
  bytes?: boolean;
}

export interface HttpAnswer {
  status: number;
  contentType: string;
  text: string;
  /** The body's bytes, when the request asked for them (text is then empty). */
  bytes?: Buffer;
  truncated: boolean;
  latencyMs: number;
}

export interface PreparedUrl {
  /** The URL without credentials, as fetch wants it. */
  href: string;
  /** The URL as it may be shown: password masked. */
  shown: string;
  authorization?: string;
  password?: string;
}

/** Validates an http(s) URL, moves its credentials into an Authorization header. */
export function prepareUrl(system: string, url: string): PreparedUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new IntegrationError(
      system,
      'unreachable',
      `${system}: ${JSON.stringify(maskUrl(String(url)).slice(0, 200))} is not a valid URL`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new IntegrationError(system, 'unreachable', `${system}: ${maskUrl(url)} is not an http(s) URL`);
  }
  const shown = maskUrl(url);
  let authorization: string | undefined;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  if (parsed.username || parsed.password) {
    authorization = `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${password ?? ''}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
  }
  return { href: parsed.toString(), shown, authorization, password };
}

/** Joins a base URL (which may carry a path prefix) and an absolute path with query. */
export function joinUrl(base: string, pathAndQuery: string): string {
  return base.replace(/\/+$/, '') + pathAndQuery;
}

async function readBounded(response: Response, maxBytes: number, signal: AbortSignal): Promise<{ bytes: Buffer; truncated: boolean }> {
  if (!response.body) return { bytes: Buffer.alloc(0), truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  const onAbort = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.byteLength > maxBytes) {
        chunks.push(value.subarray(0, maxBytes - size));
        size = maxBytes;
        truncated = true;
        await reader.cancel().catch(() => undefined);
        break;
      }
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return { bytes: Buffer.concat(chunks, size), truncated };
}

/** The IntegrationError of a failed fetch (never answered). */
export function fetchFailure(system: string, what: string, error: unknown, secrets: (string | undefined)[] = []): IntegrationError {
  const code = errorCode(error);
  const failure = socketFailure(code) ?? 'unreachable';
  let detail = code ? describeCode(code) : errorText(error);
  for (const secret of secrets) if (secret) detail = detail.split(secret).join('****');
  return new IntegrationError(system, failure, `${system}: ${what} failed: ${detail}`);
}

/**
 * Sends one request and reads its answer (any HTTP status) within options.timeoutMs.
 * `what` names the call in messages, e.g. "GET http://127.0.0.1:18000/health".
 */
export async function httpRequest(
  system: string,
  url: string,
  request: HttpRequest,
  options: CallOptions,
  what?: string,
): Promise<HttpAnswer> {
  const prepared = prepareUrl(system, url);
  const label = what ?? `${request.method ?? 'GET'} ${prepared.shown}`;
  return withDeadline(
    system,
    label,
    options,
    async (deadline: Deadline) => {
      const started = performance.now();
      const headers: Record<string, string> = { accept: 'application/json, text/plain;q=0.9, */*;q=0.5', ...request.headers };
      if (prepared.authorization && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization'))
        headers.authorization = prepared.authorization;
      const response = await fetch(prepared.href, {
        method: request.method ?? 'GET',
        headers,
        body: request.body,
        redirect: request.followRedirects ? 'follow' : 'manual',
        signal: deadline.signal,
      });
      const { bytes, truncated } =
        request.method === 'HEAD'
          ? { bytes: Buffer.alloc(0), truncated: false }
          : await readBounded(response, request.maxBytes, deadline.signal);
      return {
        status: response.status,
        contentType: response.headers.get('content-type') ?? '',
        text: request.bytes ? '' : new TextDecoder('utf-8').decode(bytes),
        ...(request.bytes ? { bytes } : {}),
        truncated,
        latencyMs: Math.round((performance.now() - started) * 10) / 10,
      };
    },
    (error) => fetchFailure(system, label, error, [prepared.password]),
  );
}

/** Parses a JSON API answer; anything else is a bad_response naming the call. */
export function parseJsonAnswer(system: string, what: string, answer: HttpAnswer): unknown {
  if (answer.truncated) {
    throw new IntegrationError(
      system,
      'bad_response',
      `${system}: ${what} answered more than the adapter reads (HTTP ${answer.status}); narrow the request`,
      answer.status,
    );
  }
  try {
    return JSON.parse(answer.text);
  } catch {
    const excerpt = answer.text.replace(/\s+/g, ' ').trim().slice(0, 200);
    throw new IntegrationError(
      system,
      'bad_response',
      `${system}: ${what} answered HTTP ${answer.status} with a body that is not JSON${excerpt ? `: ${excerpt}` : ' (empty)'}`,
      answer.status,
    );
  }
}
