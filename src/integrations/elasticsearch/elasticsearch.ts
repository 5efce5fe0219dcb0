/**
 * Elasticsearch REST API: cluster health, the _cat/indices listing (string values converted),
 * _count, and deleting indices by explicit names. ES-shaped errors ({error: {type, reason},
 * status}) become bad_response with Elasticsearch's own type and reason.
 */
import { ElasticsearchPort, EsClusterHealth, EsDeleteResult, EsIndex } from '../contracts';
import { CallOptions, IntegrationError } from '../integration-error';
import { HttpAnswer, HttpRequest, httpRequest, joinUrl, parseJsonAnswer, prepareUrl } from '../http/http-client';

const MAX_BYTES = 16 * 1024 * 1024;
const CAT_COLUMNS = 'index,health,status,docs.count,store.size,creation.date.string';

export interface EsClusterHealthDetail extends EsClusterHealth {
  timedOut: boolean;
  activeShards: number;
  activeShardsPercent: number;
}

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    if (Number.isFinite(n)) return n;
  }
  return 0;
}

/** The reason of an Elasticsearch error body, e.g. "index_not_found_exception: no such index [x]". */
function esReason(body: unknown): string | undefined {
  const error = (body as any)?.error;
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object') {
    const type = typeof error.type === 'string' ? error.type : undefined;
    const reason = typeof error.reason === 'string' ? error.reason : undefined;
    if (type || reason) return [type, reason].filter(Boolean).join(': ');
  }
  return undefined;
}

/** Request lines of ES are limited (http.max_initial_line_length, default 4 KB): batches stay below this path length. */
export const MAX_DELETE_PATH = 3000;

/** Why a name may not be used in a DELETE (wildcards, lists, _all, invalid names), or null. */
export function explicitIndexNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'not an index name';
  if (name.includes('*')) return 'it contains a wildcard (*)';
  if (name.includes(',')) return 'it is a list (,)';
  if (name === '_all' || name.includes('_all')) return 'it names _all';
  if (name === '.' || name === '..') return 'not an index name';
  if (/^[-_+]/.test(name)) return 'an index name cannot start with -, _ or +';
  if (/[\\/?"<>|\s#:A-Z]/.test(name)) return 'an index name is lower case, without \\ / ? " < > | # : or spaces';
  if (Buffer.byteLength(name) > 255) return 'an index name is at most 255 bytes';
  return null;
}

/** Splits names into batches whose DELETE path (/a,b,c URL-encoded) stays under MAX_DELETE_PATH. */
export function deleteBatches(names: string[], maxPath = MAX_DELETE_PATH): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let length = 1;
  for (const name of names) {
    const size = encodeURIComponent(name).length + (current.length ? 1 : 0);
    if (current.length && length + size > maxPath) {
      batches.push(current);
      current = [];
      length = 1;
    }
    length += encodeURIComponent(name).length + (current.length ? 1 : 0);
    current.push(name);
  }
  if (current.length) batches.push(current);
  return batches;
}

export class Elasticsearch implements ElasticsearchPort {
  private readonly shownBase: string;

  constructor(
    private readonly baseUrl: string,
    private readonly system = 'elasticsearch',
  ) {
    this.shownBase = prepareUrl(system, baseUrl).shown.replace(/\/+$/, '');
  }

  async clusterHealth(options: CallOptions): Promise<EsClusterHealthDetail> {
    const body: any = await this.getJson('/_cluster/health', 'cluster health', options);
    const status = body?.status;
    if (status !== 'green' && status !== 'yellow' && status !== 'red') {
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: cluster health answered without a green/yellow/red status (got ${JSON.stringify(status)?.slice(0, 40)})`,
      );
    }
    return {
      clusterName: String(body.cluster_name ?? ''),
      status,
      numberOfNodes: toNumber(body.number_of_nodes),
      unassignedShards: toNumber(body.unassigned_shards),
      timedOut: body.timed_out === true,
      activeShards: toNumber(body.active_shards),
      activeShardsPercent: toNumber(body.active_shards_percent_as_number),
    };
  }

  async listIndices(pattern: string, options: CallOptions): Promise<EsIndex[]> {
    const target = pattern ? `/${encodeURIComponent(pattern).replace(/%2C/gi, ',').replace(/%2A/gi, '*')}` : '';
    const body = await this.getJson(
      `/_cat/indices${target}?format=json&h=${CAT_COLUMNS}&bytes=b&s=index`,
      `listing indices ${JSON.stringify(pattern)}`,
      options,
    );
    if (!Array.isArray(body)) {
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: listing indices ${JSON.stringify(pattern)} did not answer a JSON array`,
      );
    }
    return body.map((row: any) => {
      const index: EsIndex = {
        index: String(row.index ?? ''),
        health: String(row.health ?? ''),
        status: String(row.status ?? ''),
        docsCount: toNumber(row['docs.count']),
        storeSizeBytes: toNumber(row['store.size']),
      };
      if (typeof row['creation.date.string'] === 'string' && row['creation.date.string']) index.creationDate = row['creation.date.string'];
      return index;
    });
  }

  async count(index: string, options: CallOptions): Promise<number> {
    if (!index) throw new IntegrationError(this.system, 'refused', `${this.system}: counting documents needs an index name or pattern`);
    const body: any = await this.getJson(
      `/${encodeURIComponent(index).replace(/%2C/gi, ',').replace(/%2A/gi, '*')}/_count`,
      `counting documents of ${JSON.stringify(index)}`,
      options,
    );
    if (typeof body?.count !== 'number') {
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: counting documents of ${JSON.stringify(index)} answered without a count`,
      );
    }
    return body.count;
  }

  /**
   * Deletes indices by explicit names (ES 8 refuses wildcards and _all in DELETE anyway:
   * action.destructive_requires_name), several per request while the request line stays
   * under MAX_DELETE_PATH. Every name is checked first: one bad name and nothing is sent.
   * A batch that names an index already gone is retried name by name (gone = missing).
   * options.timeoutMs bounds the whole call, all batches together.
   */
  async deleteIndices(names: string[], options: CallOptions): Promise<EsDeleteResult> {
    const unique = [...new Set(names)];
    for (const name of unique) {
      const problem = explicitIndexNameProblem(name);
      if (problem)
        throw new IntegrationError(
          this.system,
          'refused',
          `${this.system}: will not delete ${JSON.stringify(String(name).slice(0, 120))}: ${problem}; indices are deleted by explicit names only`,
        );
    }
    const result: EsDeleteResult = { deleted: [], missing: [], requests: 0 };
    const started = Date.now();
    const remaining = (): CallOptions => {
      const left = options.timeoutMs - (Date.now() - started);
      if (left <= 0) {
        throw new IntegrationError(
          this.system,
          'timeout',
          `${this.system}: deleting ${unique.length} indices did not finish within ${options.timeoutMs} ms (deleted so far: ${result.deleted.length ? result.deleted.join(', ') : 'none'})`,
        );
      }
      return { timeoutMs: left, signal: options.signal };
    };
    const send = async (batch: string[]): Promise<HttpAnswer> => {
      const path = `/${batch.map((n) => encodeURIComponent(n)).join(',')}`;
      const label = `deleting ${batch.length === 1 ? `index ${batch[0]}` : `${batch.length} indices`} (DELETE ${this.shownBase}${path.length > 120 ? `${path.slice(0, 120)}…` : path})`;
      result.requests++;
      const answer = await httpRequest(
        this.system,
        joinUrl(this.baseUrl, path),
        { method: 'DELETE' as HttpRequest['method'], maxBytes: 64 * 1024 },
        remaining(),
        label,
      );
      if ((answer.status >= 200 && answer.status < 300) || answer.status === 404) return answer;
      const error = this.httpError(label, answer);
      error.message += ` (deleted before this request: ${result.deleted.length ? result.deleted.join(', ') : 'none'})`;
      throw error;
    };
    for (const batch of deleteBatches(unique)) {
      const answer = await send(batch);
      if (answer.status !== 404) {
        result.deleted.push(...batch);
        continue;
      }
      // One of them is gone already: ES deleted none of the batch; one by one.
      for (const name of batch) {
        const single = batch.length === 1 ? answer : await send([name]);
        (single.status === 404 ? result.missing : result.deleted).push(name);
      }
    }
    return result;
  }

  private async getJson(path: string, what: string, options: CallOptions): Promise<unknown> {
    const label = `${what} (GET ${this.shownBase}${path.split('?')[0]})`;
    const answer = await httpRequest(this.system, joinUrl(this.baseUrl, path), { method: 'GET', maxBytes: MAX_BYTES }, options, label);
    if (answer.status >= 200 && answer.status < 300) return parseJsonAnswer(this.system, label, answer);
    throw this.httpError(label, answer);
  }

  private httpError(label: string, answer: HttpAnswer): IntegrationError {
    let reason: string | undefined;
    try {
      reason = esReason(JSON.parse(answer.text));
    } catch {
      reason = answer.text.replace(/\s+/g, ' ').trim().slice(0, 200) || undefined;
    }
    const detail = `HTTP ${answer.status}${reason ? ` ${reason}` : ''}`;
    if (answer.status === 401 || answer.status === 403) {
      return new IntegrationError(
        this.system,
        'refused',
        `${this.system}: ${label} was refused: ${detail}; check the credentials in the inventory's Elasticsearch URL`,
        answer.status,
      );
    }
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
