import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import Redis from 'ioredis';
import { DomainError, ErrorCode } from '../common/errors';
import { PushFeed } from '../common/push-feed';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { FINISHED, RunStatus } from './run.entity';

/** One event of a run's stream: `snapshot` first, then what the runner publishes. */
export interface RunEvent {
  /** Position in this stream, from 1. */
  id: number;
  type: string;
  runId: string;
  data: Record<string, unknown>;
}

const SUBSCRIBE_TIMEOUT_MS = 3000;

/** The Redis channel of a run's events (pub/sub channels are not key-prefixed). */
export const runEventsChannel = (runId: string) => `run-events:${runId}`;

/**
 * A run's events as an async iterator: ends after a final status (or at once when the
 * snapshot shows the run already ended); return() stops it at once, also while waiting.
 */
export class RunEventFeed extends PushFeed<RunEvent> {
  private sequence = 0;

  constructor(
    readonly runId: string,
    onEnd: () => void,
  ) {
    super(onEnd);
  }

  push(type: string, data: Record<string, unknown>): void {
    if (this.isEnded) return;
    this.deliver({ id: ++this.sequence, type, runId: this.runId, data });
    if (type === 'status' && FINISHED.includes(data.status as RunStatus)) this.end();
  }
}

/**
 * The process's one subscriber connection to the control plane's Redis, fanned out by
 * channel to run event feeds (SSE and GraphQL) and to the runner's cancel listener.
 * Closed on shutdown, after every open feed has been ended.
 */
@Injectable()
export class RunEvents implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger(RunEvents.name);
  private subscriber?: Redis;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  private readonly subscribing = new Map<string, Promise<unknown>>();
  private readonly feeds = new Set<RunEventFeed>();
  /** Interval of the SSE comment heartbeat. */
  heartbeatMs = 15_000;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  private connection(): Redis {
    if (!this.subscriber) {
      this.subscriber = new Redis(this.config.OPS_REDIS_URL, {
        maxRetriesPerRequest: null,
        connectTimeout: 2000,
        retryStrategy: (times) => Math.min(times * 200, 2000),
      });
      this.subscriber.on('error', () => undefined);
      this.subscriber.on('message', (channel: string, message: string) => {
        for (const listener of this.listeners.get(channel) ?? []) listener(message);
      });
    }
    return this.subscriber;
  }

  /**
   * Calls `listener` with every message on `channel` until the returned function is called.
   * With `confirmWithinMs`, waits for Redis to confirm the subscription (else 503 and no
   * listener); without, the subscription is made whenever Redis is reachable (and renewed
   * on reconnection).
   */
  async listen(channel: string, listener: (message: string) => void, confirmWithinMs?: number): Promise<() => void> {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      const pending = this.connection().subscribe(channel);
      this.subscribing.set(channel, pending);
      pending.finally(() => this.subscribing.get(channel) === pending && this.subscribing.delete(channel)).catch(() => undefined);
    }
    set.add(listener);
    const stop = () => {
      if (!set.delete(listener) || set.size) return;
      this.listeners.delete(channel);
      this.subscriber?.unsubscribe(channel).catch(() => undefined);
    };
    if (confirmWithinMs === undefined) return stop;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.subscribing.get(channel),
        new Promise(
          (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${confirmWithinMs} ms`)), confirmWithinMs)),
        ),
      ]);
    } catch (error) {
      stop();
      throw new DomainError(
        ErrorCode.DependencyUnavailable,
        `the event stream could not be opened: the control plane's Redis did not answer (${(error as Error).message}); try again shortly`,
      );
    } finally {
      clearTimeout(timer);
    }
    return stop;
  }

  /**
   * Opens a run's feed: subscribes first, then reads the snapshot (so no event is lost in
   * between), so that an unknown run fails here, before anything is streamed.
   */
  async open(runId: string, snapshot: () => Promise<{ status: RunStatus }>): Promise<RunEventFeed> {
    const early: string[] = [];
    // eslint-disable-next-line prefer-const -- set once the snapshot is in; deliver() reads it before
    let feed: RunEventFeed | undefined;
    const deliver = (message: string) => {
      if (!feed) return void early.push(message);
      try {
        const { type, ...data } = JSON.parse(message) as { type?: unknown } & Record<string, unknown>;
        feed.push(typeof type === 'string' ? type : 'message', data);
      } catch {
        this.logger.warn(`run ${runId}: an event that is not JSON was dropped`);
      }
    };
    const stop = await this.listen(runEventsChannel(runId), deliver, SUBSCRIBE_TIMEOUT_MS);
    let run: { status: RunStatus };
    try {
      run = await snapshot();
    } catch (error) {
      stop();
      throw error;
    }
    const opened = new RunEventFeed(runId, () => {
      stop();
      this.feeds.delete(opened);
    });
    this.feeds.add(opened);
    opened.push('snapshot', JSON.parse(JSON.stringify(run)));
    if (FINISHED.includes(run.status)) opened.end();
    feed = opened;
    for (const message of early) deliver(message);
    return opened;
  }

  /**
   * Open streams end as soon as the HTTP server starts closing (Fastify's preClose: the
   * GraphQL module closes it early in shutdown), else the close would wait for them.
   */
  onModuleInit(): void {
    const server = this.adapterHost.httpAdapter?.getInstance?.() as
      { addHook?: (name: 'preClose', hook: () => Promise<void>) => void } | undefined;
    server?.addHook?.('preClose', async () => this.endAll());
  }

  onModuleDestroy(): void {
    this.endAll();
  }

  private endAll(): void {
    for (const feed of [...this.feeds]) feed.end();
  }

  onApplicationShutdown(): void {
    this.listeners.clear();
    this.subscriber?.disconnect();
  }
}
