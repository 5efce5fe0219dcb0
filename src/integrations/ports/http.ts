/** The port of http/: probes of HTTP endpoints. */
import { CallOptions } from '../integration-error';

export interface HttpProbeResult {
  status: number;
  latencyMs: number;
  /** Parsed JSON when the body is JSON, else the text (bounded to 64 KiB). */
  body: unknown;
}

export interface HttpProbePort {
  /** GET a URL; any HTTP status is a result (not an error); no answer in time is a timeout. Header values are never logged. */
  get(url: string, options: CallOptions & { headers?: Record<string, string> }): Promise<HttpProbeResult>;
}
