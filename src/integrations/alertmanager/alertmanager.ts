/**
 * Alertmanager API v2 (base /api/v2; the runbook's /api/v1 calls no longer exist): status,
 * alerts (list with repeated `filter` matchers, post), silences (list, get, create, expire
 * with DELETE /silence/{id}, singular). Alertmanager's error bodies (a JSON string, or
 * {code, message}) become the IntegrationError's reason.
 */
import {
  AlertmanagerPort,
  AmAlert,
  AmAlertInput,
  AmAlertQuery,
  AmAlertState,
  AmMatcher,
  AmSilence,
  AmSilenceInput,
  AmSilenceState,
  AmStatus,
} from '../contracts';
import { CallOptions, IntegrationError } from '../integration-error';
import { HttpAnswer, HttpRequest, httpRequest, joinUrl, parseJsonAnswer, prepareUrl } from '../http/http-client';

const MAX_BYTES = 16 * 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const ALERT_STATES: AmAlertState[] = ['unprocessed', 'active', 'suppressed'];
const SILENCE_STATES: AmSilenceState[] = ['active', 'pending', 'expired'];

/** The operator of a matcher: =, !=, =~ or !~. */
export function matcherOperator(m: AmMatcher): '=' | '!=' | '=~' | '!~' {
  const equal = m.isEqual !== false;
  if (m.isRegex) return equal ? '=~' : '!~';
  return equal ? '=' : '!=';
}

/** A matcher in Alertmanager's filter syntax, the value double-quoted: `alertname=~"High.*"`. */
export function formatMatcher(m: AmMatcher): string {
  const value = m.value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `${m.name}${matcherOperator(m)}"${value}"`;
}

function strings(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
  }
  return out;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Alertmanager's reason in an error body: a JSON string, {message}, or the text itself. */
function amReason(text: string): string | undefined {
  try {
    const body = JSON.parse(text);
    if (typeof body === 'string') return body;
    if (body && typeof body.message === 'string') return body.message;
    if (body && typeof body.error === 'string') return body.error;
  } catch {
    // not JSON
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 300) || undefined;
}

export class Alertmanager implements AlertmanagerPort {
  private readonly shownBase: string;

  constructor(
    private readonly baseUrl: string,
    private readonly system = 'alertmanager',
  ) {
    this.shownBase = prepareUrl(system, baseUrl).shown.replace(/\/+$/, '');
  }

  async status(options: CallOptions): Promise<AmStatus> {
    const body: any = await this.call('GET', '/status', 'reading the status', options);
    const cluster = body?.cluster?.status;
    const version = body?.versionInfo?.version;
    if (typeof cluster !== 'string' || typeof version !== 'string') {
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: the status (GET ${this.shownBase}/api/v2/status) has no cluster status or version; is this an Alertmanager with API v2?`,
      );
    }
    return { cluster, version, uptime: typeof body.uptime === 'string' ? body.uptime : '' };
  }

  async alerts(query: AmAlertQuery, options: CallOptions): Promise<AmAlert[]> {
    const params = new URLSearchParams();
    for (const flag of ['active', 'silenced', 'inhibited', 'unprocessed'] as const) {
      if (query[flag] !== undefined) params.set(flag, String(query[flag]));
    }
    for (const f of query.filter ?? []) params.append('filter', this.filterText(f));
    if (query.receiver) params.set('receiver', query.receiver);
    const qs = params.toString();
    const body = await this.call('GET', `/alerts${qs ? `?${qs}` : ''}`, 'listing alerts', options);
    if (!Array.isArray(body))
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: listing alerts (GET ${this.shownBase}/api/v2/alerts) did not answer a JSON array`,
      );
    return body.map((item) => this.toAlert(item));
  }

  async postAlerts(alerts: AmAlertInput[], options: CallOptions): Promise<void> {
    if (alerts.length === 0) return;
    for (const a of alerts) {
      if (!a.labels || Object.keys(a.labels).length === 0)
        throw new IntegrationError(this.system, 'refused', `${this.system}: an alert needs at least one label (alertname)`);
    }
    await this.call('POST', '/alerts', `posting ${alerts.length} alert(s)`, options, alerts);
  }

  async silences(options: CallOptions & { filter?: (string | AmMatcher)[] }): Promise<AmSilence[]> {
    const params = new URLSearchParams();
    for (const f of options.filter ?? []) params.append('filter', this.filterText(f));
    const qs = params.toString();
    const body = await this.call('GET', `/silences${qs ? `?${qs}` : ''}`, 'listing silences', options);
    if (!Array.isArray(body))
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: listing silences (GET ${this.shownBase}/api/v2/silences) did not answer a JSON array`,
      );
    return body.map((item) => this.toSilence(item));
  }

  async silence(id: string, options: CallOptions): Promise<AmSilence> {
    this.checkId(id);
    const body = await this.call('GET', `/silence/${id}`, `reading silence ${id}`, options, undefined, `silence ${id} does not exist`);
    return this.toSilence(body);
  }

  async createSilence(silence: AmSilenceInput, options: CallOptions): Promise<string> {
    if (silence.matchers.length === 0)
      throw new IntegrationError(this.system, 'refused', `${this.system}: a silence needs at least one matcher`);
    for (const m of silence.matchers) {
      if (!LABEL_NAME.test(m.name))
        throw new IntegrationError(this.system, 'refused', `${this.system}: ${JSON.stringify(m.name)} is not a label name`);
    }
    const payload = {
      matchers: silence.matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual !== false })),
      startsAt: silence.startsAt,
      endsAt: silence.endsAt,
      createdBy: silence.createdBy,
      comment: silence.comment,
    };
    const body: any = await this.call('POST', '/silences', 'creating a silence', options, payload);
    const id = body?.silenceID;
    if (typeof id !== 'string' || !id)
      throw new IntegrationError(this.system, 'bad_response', `${this.system}: creating a silence answered without a silenceID`);
    return id;
  }

  async expireSilence(id: string, options: CallOptions): Promise<void> {
    this.checkId(id);
    await this.call('DELETE', `/silence/${id}`, `expiring silence ${id}`, options, undefined, `silence ${id} does not exist`);
  }

  private checkId(id: string): void {
    if (typeof id !== 'string' || !UUID.test(id))
      throw new IntegrationError(
        this.system,
        'refused',
        `${this.system}: ${JSON.stringify(String(id).slice(0, 60))} is not a silence id (a UUID)`,
      );
  }

  private filterText(f: string | AmMatcher): string {
    if (typeof f === 'string') return f;
    if (!LABEL_NAME.test(f.name))
      throw new IntegrationError(this.system, 'refused', `${this.system}: ${JSON.stringify(f.name)} is not a label name`);
    return formatMatcher(f);
  }

  private toAlert(item: any): AmAlert {
    if (!item || typeof item.fingerprint !== 'string')
      throw new IntegrationError(this.system, 'bad_response', `${this.system}: an alert in the listing has no fingerprint`);
    const state = ALERT_STATES.includes(item.status?.state) ? (item.status.state as AmAlertState) : 'unprocessed';
    const alert: AmAlert = {
      fingerprint: item.fingerprint,
      labels: strings(item.labels),
      annotations: strings(item.annotations),
      startsAt: String(item.startsAt ?? ''),
      endsAt: String(item.endsAt ?? ''),
      status: { state, silencedBy: stringList(item.status?.silencedBy), inhibitedBy: stringList(item.status?.inhibitedBy) },
      receivers: Array.isArray(item.receivers)
        ? item.receivers.map((r: any) => (typeof r === 'string' ? r : String(r?.name ?? ''))).filter(Boolean)
        : [],
    };
    if (typeof item.updatedAt === 'string') alert.updatedAt = item.updatedAt;
    if (typeof item.generatorURL === 'string' && item.generatorURL) alert.generatorURL = item.generatorURL;
    return alert;
  }

  private toSilence(item: any): AmSilence {
    if (!item || typeof item.id !== 'string' || !Array.isArray(item.matchers)) {
      throw new IntegrationError(this.system, 'bad_response', `${this.system}: a silence in the answer has no id or matchers`);
    }
    const state = item.status?.state;
    if (!SILENCE_STATES.includes(state))
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: silence ${item.id} has an unknown state ${JSON.stringify(state)}`,
      );
    const silence: AmSilence = {
      id: item.id,
      matchers: item.matchers.map((m: any) => ({
        name: String(m?.name ?? ''),
        value: String(m?.value ?? ''),
        isRegex: m?.isRegex === true,
        isEqual: m?.isEqual !== false,
      })),
      startsAt: String(item.startsAt ?? ''),
      endsAt: String(item.endsAt ?? ''),
      createdBy: String(item.createdBy ?? ''),
      comment: String(item.comment ?? ''),
      status: { state },
    };
    if (typeof item.updatedAt === 'string') silence.updatedAt = item.updatedAt;
    return silence;
  }

  private async call(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    what: string,
    options: CallOptions,
    body?: unknown,
    notFound?: string,
  ): Promise<unknown> {
    const label = `${what} (${method} ${this.shownBase}/api/v2${path.split('?')[0]})`;
    const request: HttpRequest = {
      // The shared HTTP client types the methods it was written for; fetch sends any method.
      method: method as HttpRequest['method'],
      maxBytes: MAX_BYTES,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    };
    const answer = await httpRequest(this.system, joinUrl(this.baseUrl, `/api/v2${path}`), request, options, label);
    if (answer.status >= 200 && answer.status < 300) {
      if (method !== 'GET' && answer.text.trim() === '') return undefined;
      return parseJsonAnswer(this.system, label, answer);
    }
    throw this.httpError(label, answer, notFound);
  }

  private httpError(label: string, answer: HttpAnswer, notFound?: string): IntegrationError {
    const reason = amReason(answer.text);
    if (answer.status === 404 && notFound)
      return new IntegrationError(this.system, 'bad_response', `${this.system}: ${notFound} (${label}: HTTP 404)`, 404);
    const detail = `HTTP ${answer.status}${reason ? ` ${reason}` : ''}`;
    if (answer.status === 401 || answer.status === 403) {
      return new IntegrationError(
        this.system,
        'refused',
        `${this.system}: ${label} was refused: ${detail}; check the credentials in the inventory's Alertmanager URL`,
        answer.status,
      );
    }
    if (answer.status === 400 || answer.status === 422)
      return new IntegrationError(this.system, 'refused', `${this.system}: ${label} was refused: ${detail}`, answer.status);
    if (answer.status === 404)
      return new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: ${label}: not found (HTTP 404${reason ? ` ${reason}` : ''}); is ${this.shownBase} an Alertmanager with API v2?`,
        404,
      );
    if (answer.status === 408)
      return new IntegrationError(this.system, 'timeout', `${this.system}: ${label} timed out on the server: ${detail}`, answer.status);
    if (answer.status === 429)
      return new IntegrationError(
        this.system,
        'refused',
        `${this.system}: ${label} was refused (too many requests): ${detail}`,
        answer.status,
      );
    return new IntegrationError(this.system, 'bad_response', `${this.system}: ${label} failed: ${detail}`, answer.status);
  }
}
