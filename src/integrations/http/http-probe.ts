/**
 * HTTP probes of the ERP stack's endpoints (backend /health, Grafana, Kibana, ...): GET a URL
 * within the call's deadline. Any HTTP status is a result; only a missing answer is an error.
 */
import { HttpProbePort, HttpProbeResult } from '../contracts';
import { CallOptions } from '../integration-error';
import { httpRequest } from './http-client';

export const PROBE_TEXT_LIMIT = 64 * 1024;
/** JSON bodies are read up to this size so that they parse; larger ones come back as bounded text. */
export const PROBE_JSON_LIMIT = 1024 * 1024;

export interface HttpProbeOptions extends CallOptions {
  /** The system named in errors; by default the inventory URL the probed URL belongs to, else "http". */
  system?: string;
  headers?: Record<string, string>;
}

export interface HttpProbeAnswer extends HttpProbeResult {
  contentType: string;
  /** The body was longer than the bound and was cut. */
  truncated: boolean;
}

export class HttpProbe implements HttpProbePort {
  private readonly systems: { name: string; prefix: string }[];

  /** `systems`: name → base URL (the inventory's `urls`), used to name the system in errors. */
  constructor(systems: Record<string, string> = {}) {
    this.systems = Object.entries(systems)
      .filter(([, url]) => typeof url === 'string' && url.length > 0)
      .map(([name, url]) => ({ name, prefix: url.replace(/\/+$/, '') }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
  }

  systemOf(url: string): string {
    const match = this.systems.find((s) => url === s.prefix || url.startsWith(`${s.prefix}/`) || url.startsWith(`${s.prefix}?`));
    return match?.name ?? 'http';
  }

  async get(url: string, options: HttpProbeOptions): Promise<HttpProbeAnswer> {
    const system = options.system ?? this.systemOf(url);
    const answer = await httpRequest(system, url, { method: 'GET', headers: options.headers, maxBytes: PROBE_JSON_LIMIT }, options);
    const isJson = /[/+]json\b/i.test(answer.contentType);
    if (isJson && !answer.truncated) {
      try {
        return {
          status: answer.status,
          latencyMs: answer.latencyMs,
          body: JSON.parse(answer.text),
          contentType: answer.contentType,
          truncated: false,
        };
      } catch {
        /* not JSON after all: the text below */
      }
    }
    const cut = answer.text.length > PROBE_TEXT_LIMIT || Buffer.byteLength(answer.text) > PROBE_TEXT_LIMIT;
    const text = cut ? Buffer.from(answer.text).subarray(0, PROBE_TEXT_LIMIT).toString('utf8') : answer.text;
    return {
      status: answer.status,
      latencyMs: answer.latencyMs,
      body: text,
      contentType: answer.contentType,
      truncated: answer.truncated || cut,
    };
  }
}
