/**
 * The ERP's Redis (ioredis): one lazily connected client, no offline queue (a command never
 * waits for a reconnect), no automatic reconnect loop (the next call reconnects). Every call
 * runs under its deadline; a connection still busy when it passes is dropped, so that the
 * next call starts from a fresh connection.
 */
import Redis from 'ioredis';
import { maskUrl, maskValues } from '../../common/secrets';
import { TargetRedisPort } from '../contracts';
import { CallOptions, describeCode, errorCode, errorText, IntegrationError, socketFailure } from '../integration-error';
import { withDeadline } from '../http/deadline';

export interface TargetRedisOptions {
  /** Upper bound of one TCP connect, whatever the call's timeout (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** Upper bound of one command, whatever the call's timeout (default 10 000 ms). */
  commandTimeoutMs?: number;
  /** The system named in errors (default erp-redis). */
  system?: string;
}

export interface RedisMemory {
  usedBytes: number;
  maxBytes: number;
  /** maxmemory-policy, e.g. allkeys-lru. */
  policy?: string;
}

/** The key:value lines of an INFO answer. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

export class TargetRedis implements TargetRedisPort {
  readonly system: string;
  private readonly client: Redis;
  private readonly shown: string;
  private readonly password?: string;
  private connecting?: Promise<void>;
  private closed = false;

  constructor(url: string, options: TargetRedisOptions = {}) {
    this.system = options.system ?? 'erp-redis';
    try {
      const parsed = new URL(url);
      this.password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
    } catch {
      throw new IntegrationError(this.system, 'unreachable', `${this.system}: the Redis URL is not a valid redis:// URL`);
    }
    this.shown = maskUrl(url);
    this.client = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      connectTimeout: options.connectTimeoutMs ?? 10000,
      commandTimeout: options.commandTimeoutMs ?? 10000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      autoResubscribe: false,
      // No INFO before the first command: a refused ready check surfaces only as "Connection is
      // closed.", hiding NOAUTH; the command itself names it (and LOADING is mapped below).
      enableReadyCheck: false,
      connectionName: 'erp-ops-control-plane',
    });
    // Errors reach the caller through the command's promise; the event would only log.
    this.client.on('error', () => undefined);
  }

  async ping(options: CallOptions): Promise<{ latencyMs: number }> {
    const started = performance.now();
    await this.run('PING', options, async () => {
      const answer = await this.client.ping();
      if (answer !== 'PONG')
        throw new IntegrationError(
          this.system,
          'bad_response',
          `${this.system}: PING on ${this.shown} answered ${JSON.stringify(String(answer).slice(0, 40))} instead of PONG`,
        );
    });
    return { latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  }

  async memory(options: CallOptions): Promise<RedisMemory> {
    const text = await this.run('INFO memory', options, () => this.client.info('memory'));
    const info = parseInfo(String(text));
    const used = Number(info.used_memory);
    const max = Number(info.maxmemory);
    if (!Number.isFinite(used) || !Number.isFinite(max)) {
      throw new IntegrationError(
        this.system,
        'bad_response',
        `${this.system}: INFO memory on ${this.shown} answered without used_memory and maxmemory`,
      );
    }
    const result: RedisMemory = { usedBytes: used, maxBytes: max };
    if (info.maxmemory_policy) result.policy = info.maxmemory_policy;
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.client.status === 'ready') {
      await Promise.race([this.client.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    this.client.disconnect();
  }

  /** Connects if needed (one connect shared by concurrent calls). */
  private ready(): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    if (!this.connecting) {
      const status = this.client.status;
      const attempt =
        status === 'connecting' || status === 'connect' || status === 'reconnecting'
          ? new Promise<void>((resolve, reject) => {
              const onReady = () => {
                this.client.off('close', onClose);
                resolve();
              };
              const onClose = () => {
                this.client.off('ready', onReady);
                reject(new Error('Connection is closed.'));
              };
              this.client.once('ready', onReady);
              this.client.once('close', onClose);
            })
          : this.client.connect();
      this.connecting = attempt.finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  private run<T>(command: string, options: CallOptions, fn: () => Promise<T>): Promise<T> {
    if (this.closed)
      return Promise.reject(
        new IntegrationError(
          this.system,
          'unreachable',
          `${this.system}: ${command} failed: the adapter is closed (application shutting down)`,
        ),
      );
    const what = `${command} on ${this.shown}`;
    return withDeadline(
      this.system,
      what,
      options,
      async (deadline) => {
        const onAbort = () => this.client.disconnect();
        deadline.signal.addEventListener('abort', onAbort, { once: true });
        try {
          await this.ready();
          return await fn();
        } finally {
          deadline.signal.removeEventListener('abort', onAbort);
        }
      },
      (error) => this.mapError(what, error),
    );
  }

  private mapError(what: string, error: unknown): IntegrationError {
    const secrets = [this.password];
    const text = errorText(error);
    const fail = (failure: 'unreachable' | 'timeout' | 'refused' | 'bad_response', detail: string) =>
      new IntegrationError(this.system, failure, maskValues(`${this.system}: ${what} failed: ${detail}`, secrets));
    const code = errorCode(error);
    const socket = socketFailure(code);
    if (socket) return fail(socket, `cannot connect: ${describeCode(code!)}`);
    if (/Command timed out/i.test(text)) return fail('timeout', text);
    if (/NOAUTH|WRONGPASS|NOPERM|invalid password|invalid username-password/i.test(text)) return fail('refused', text);
    if (/Connection is closed|Stream isn't writeable|connection closed|Ready check failed/i.test(text))
      return fail('unreachable', `the connection was lost (${text})`);
    if (/^LOADING|^BUSY|^MASTERDOWN/i.test(text)) return fail('refused', text);
    return fail('bad_response', text);
  }
}
