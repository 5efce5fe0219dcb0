/**
 * Prometheus HTTP API (/api/v1/query, /api/v1/query_range), POSTed form-encoded. The envelope's
 * errors (status "error", errorType, error) become bad_response with Prometheus's own text.
 */
import { PrometheusPort, PromSample } from '../contracts';
import { CallOptions, IntegrationError } from '../integration-error';
import { httpRequest, joinUrl, parseJsonAnswer, prepareUrl } from '../http/http-client';

const MAX_BYTES = 32 * 1024 * 1024;

export interface PromSeries {
  metric: Record<string, string>;
  values: [number, number][];
}

/** A Prometheus sample value ("1.5", "NaN", "+Inf", "-Inf") as a number. */
export function parsePromValue(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return Number.NaN;
  switch (value) {
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY;
    case '-Inf':
      return Number.NEGATIVE_INFINITY;
    case 'NaN':
      return Number.NaN;
    default: {
      const n = Number(value);
      return value.trim() === '' ? Number.NaN : n;
    }
  }
}

function seconds(date: Date): string {
  return (date.getTime() / 1000).toFixed(3);
}

export class Prometheus implements PrometheusPort {
  private readonly shownBase: string;

  constructor(
    private readonly baseUrl: string,
    private readonly system = 'prometheus',
  ) {
    this.shownBase = prepareUrl(system, baseUrl).shown.replace(/\/+$/, '');
  }

  async query(promql: string, options: CallOptions & { time?: Date }): Promise<PromSample[]> {
    const form = new URLSearchParams({ query: promql });
    if (options.time) form.set('time', seconds(options.time));
    const data = await this.call('/api/v1/query', form, promql, options);
    const resultType = data?.resultType;
    const result = data?.result;
    if (resultType === 'scalar' && Array.isArray(result)) return [{ metric: {}, value: parsePromValue(result[1]) }];
    if (resultType !== 'vector' || !Array.isArray(result)) {
      throw new IntegrationError(this.system, 'bad_response', `${this.system}: query ${this.quote(promql)} returned ${String(resultType ?? 'no result type')}, expected an instant vector`);
    }
    const samples: PromSample[] = [];
    for (const item of result) {
      if (!item || !Array.isArray(item.value)) continue; // native histograms carry "histogram" instead
      samples.push({ metric: { ...(item.metric ?? {}) }, value: parsePromValue(item.value[1]) });
    }
    return samples;
  }

  async queryRange(promql: string, range: { start: Date; end: Date; stepSeconds: number }, options: CallOptions): Promise<PromSeries[]> {
    if (!(range.stepSeconds > 0) || !(range.end.getTime() >= range.start.getTime())) {
      throw new IntegrationError(this.system, 'refused', `${this.system}: query_range ${this.quote(promql)} needs end >= start and a positive step (got step ${range.stepSeconds} s)`);
    }
    const form = new URLSearchParams({ query: promql, start: seconds(range.start), end: seconds(range.end), step: String(range.stepSeconds) });
    const data = await this.call('/api/v1/query_range', form, promql, options);
    if (data?.resultType !== 'matrix' || !Array.isArray(data.result)) {
      throw new IntegrationError(this.system, 'bad_response', `${this.system}: query_range ${this.quote(promql)} returned ${String(data?.resultType ?? 'no result type')}, expected a range vector (matrix)`);
    }
    return data.result
      .filter((item: any) => item && Array.isArray(item.values))
      .map((item: any) => ({
        metric: { ...(item.metric ?? {}) },
        values: item.values.map((pair: [number, string]) => [Number(pair[0]), parsePromValue(pair[1])] as [number, number]),
      }));
  }

  private quote(promql: string): string {
    const oneLine = promql.replace(/\s+/g, ' ').trim();
    return JSON.stringify(oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine);
  }

  private async call(path: string, form: URLSearchParams, promql: string, options: CallOptions): Promise<any> {
    // Prometheus stops evaluating by itself a little before our deadline.
    form.set('timeout', `${Math.max(1, Math.floor(options.timeoutMs * 0.9))}ms`);
    const what = `${path.endsWith('range') ? 'query_range' : 'query'} ${this.quote(promql)} (POST ${this.shownBase}${path})`;
    const answer = await httpRequest(
      this.system,
      joinUrl(this.baseUrl, path),
      { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' }, maxBytes: MAX_BYTES },
      options,
      what,
    );
    if (answer.status === 401 || answer.status === 403) {
      throw new IntegrationError(this.system, 'refused', `${this.system}: ${what} was refused: HTTP ${answer.status}; check the credentials in the inventory's Prometheus URL`, answer.status);
    }
    let envelope: any;
    try {
      envelope = parseJsonAnswer(this.system, what, answer);
    } catch (error) {
      if (answer.status >= 500 || answer.status === 404) {
        throw new IntegrationError(this.system, 'bad_response', `${this.system}: ${what} answered HTTP ${answer.status} without the API envelope; is ${this.shownBase} a Prometheus server?`, answer.status);
      }
      throw error;
    }
    if (envelope?.status === 'error') {
      const type = typeof envelope.errorType === 'string' ? envelope.errorType : 'error';
      const text = typeof envelope.error === 'string' ? envelope.error : 'no error text';
      const failure = type === 'timeout' ? 'timeout' : 'bad_response';
      throw new IntegrationError(this.system, failure, `${this.system}: ${what} failed: ${type}: ${text}`, answer.status);
    }
    if (envelope?.status !== 'success' || answer.status < 200 || answer.status >= 300) {
      throw new IntegrationError(this.system, 'bad_response', `${this.system}: ${what} answered HTTP ${answer.status} without a success envelope`, answer.status);
    }
    return envelope.data;
  }
}
