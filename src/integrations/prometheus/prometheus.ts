/**
 * Prometheus HTTP API (/api/v1/query, /api/v1/query_range), POSTed form-encoded. The envelope's
 * errors (status "error", errorType, error) become bad_response with Prometheus's own text.
 */
import { PrometheusPort, PromSample } from '../contracts';
import { CallOptions, IntegrationError } from '../integration-error';
import { HttpAnswer, httpRequest, joinUrl, parseJsonAnswer, prepareUrl } from '../http/http-client';
import { MatrixSeries, MatrixSyntaxError, parseMatrixAnswer, parsePromValue } from './prometheus-matrix';

export { parsePromValue };

const MAX_BYTES = 32 * 1024 * 1024;

/** One series of a range query: labels, evaluation times (unix seconds) and values, side by side. */
export type PromSeries = MatrixSeries;

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
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: query ${this.quote(promql)} returned ${String(resultType ?? 'no result type')}, expected an instant vector`,
      );
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
      throw new IntegrationError(
        this.system,
        'refused',
        `${this.system}: query_range ${this.quote(promql)} needs end >= start and a positive step (got step ${range.stepSeconds} s)`,
      );
    }
    const form = new URLSearchParams({
      query: promql,
      start: seconds(range.start),
      end: seconds(range.end),
      step: String(range.stepSeconds),
    });
    // The samples are read into number arrays as the text is scanned (no object per sample).
    const data = await this.call(
      '/api/v1/query_range',
      form,
      promql,
      options,
      (what, answer) => {
        const bytes = answer.bytes ?? Buffer.from(answer.text, 'utf8');
        if (answer.truncated) return parseJsonAnswer(this.system, what, { ...answer, text: bytes.toString('utf8') });
        try {
          return parseMatrixAnswer(bytes, Math.floor((range.end.getTime() - range.start.getTime()) / 1000 / range.stepSeconds) + 1);
        } catch (error) {
          if (!(error instanceof MatrixSyntaxError)) throw error;
          const excerpt = bytes.subarray(0, 600).toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
          throw new IntegrationError(
            this.system,
            'bad_response',
            `${this.system}: ${what} answered HTTP ${answer.status} with a body that is not the JSON of a range query (${error.message})${excerpt ? `: ${excerpt}` : ' (empty)'}`,
            answer.status,
          );
        }
      },
      true,
    );
    if (data?.resultType !== 'matrix' || !Array.isArray(data.result)) {
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: query_range ${this.quote(promql)} returned ${String(data?.resultType ?? 'no result type')}, expected a range vector (matrix)`,
      );
    }
    return data.result as PromSeries[];
  }

  private quote(promql: string): string {
    const oneLine = promql.replace(/\s+/g, ' ').trim();
    return JSON.stringify(oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine);
  }

  private async call(
    path: string,
    form: URLSearchParams,
    promql: string,
    options: CallOptions,
    parse: (what: string, answer: HttpAnswer) => unknown = (what, answer) => parseJsonAnswer(this.system, what, answer),
    bytes = false,
  ): Promise<any> {
    // Prometheus stops evaluating by itself a little before our deadline.
    form.set('timeout', `${Math.max(1, Math.floor(options.timeoutMs * 0.9))}ms`);
    const what = `${path.endsWith('range') ? 'query_range' : 'query'} ${this.quote(promql)} (POST ${this.shownBase}${path})`;
    const answer = await httpRequest(
      this.system,
      joinUrl(this.baseUrl, path),
      // identity: Prometheus gzips an answer for a client that accepts it, at the cost of its own
      // CPU (and ours to inflate it); Prometheus and the control plane sit on the same network.
      {
        method: 'POST',
        body: form.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'accept-encoding': 'identity' },
        maxBytes: MAX_BYTES,
        bytes,
      },
      options,
      what,
    );
    if (answer.status === 401 || answer.status === 403) {
      throw new IntegrationError(
        this.system,
        'refused',
        `${this.system}: ${what} was refused: HTTP ${answer.status}; check the credentials in the inventory's Prometheus URL`,
        answer.status,
      );
    }
    let envelope: any;
    try {
      envelope = parse(what, answer);
    } catch (error) {
      if (answer.status >= 500 || answer.status === 404) {
        throw new IntegrationError(
          this.system,
          'bad_response',
          `${this.system}: ${what} answered HTTP ${answer.status} without the API envelope; is ${this.shownBase} a Prometheus server?`,
          answer.status,
        );
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
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: ${what} answered HTTP ${answer.status} without a success envelope`,
        answer.status,
      );
    }
    return envelope.data;
  }
}
