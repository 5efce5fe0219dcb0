import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PushFeed } from '../../common/push-feed';
import { EventRow } from './incident-store';
import { IncidentsService } from './incidents.service';

/** One timeline entry as streamed (SSE `data`, GraphQL `incidentEvents`). */
export interface IncidentEventView {
  id: string;
  incidentId: string;
  at: Date;
  type: string;
  actor: string | null;
  message: string;
  data: Record<string, unknown>;
}

/**
 * One event of an incident's stream. `id` (the SSE id, sent back as Last-Event-ID) is the
 * newest incident_events id delivered so far: the event's own id, except for an event that
 * committed late with a lower id (`data.id` is always its own).
 */
export interface IncidentStreamEvent {
  id: string;
  type: string;
  data: IncidentEventView;
}

export const toEventView = (row: EventRow): IncidentEventView => ({
  id: String(row.id),
  incidentId: row.incident_id,
  at: row.at,
  type: row.type,
  actor: row.actor,
  message: row.message,
  data: row.data,
});

/** An incident's timeline as an async iterator of pushed events. */
export class IncidentEventFeed extends PushFeed<IncidentStreamEvent> {
  constructor(
    readonly incidentId: string,
    onEnd: () => void,
  ) {
    super(onEnd);
  }

  /** `position`: where a client resumes after this event (the newest id it has been given). */
  push(row: EventRow, position: string): void {
    this.deliver({ id: position, type: row.type, data: toEventView(row) });
  }
}

/** What one open stream has delivered: everything up to `after`, and the ids it saw in the late window above `floor`. */
interface Watch {
  feed: IncidentEventFeed;
  after: bigint;
  floor: bigint;
  seen: Set<bigint>;
  marks: { at: number; after: bigint }[];
}

/** Rows read per stream and poll; a stream that gets as many is polled again at once. */
const BATCH = 500;

/**
 * The timelines of incidents as live feeds, read from PostgreSQL: every replica writes its
 * events there, so a stream on one replica sees what any other wrote, with no other channel.
 * One query per poll serves every open stream of the process.
 *
 * Ids come from a sequence, so a transaction may commit an event with a lower id after one
 * with a higher id has been delivered. For `lateWindowMs` after a stream moved past an id,
 * ids below it that were not seen are still looked for (and delivered when they appear).
 */
@Injectable()
export class IncidentEventStreams implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(IncidentEventStreams.name);
  private readonly watches = new Set<Watch>();
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  /** How often open streams look for new events. */
  pollMs = 500;
  /** Interval of the SSE comment heartbeat. */
  heartbeatMs = 15_000;
  /** How long ids below the newest delivered one are still looked for. */
  lateWindowMs = 15_000;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly incidents: IncidentsService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** Number of open streams of this process. */
  get open(): number {
    return this.watches.size;
  }

  /**
   * Opens an incident's feed: its timeline after `after` (all of it without), then each event
   * as it is written, until return() or shutdown. An unknown incident fails here (404).
   */
  async feed(incidentId: string, after?: string): Promise<IncidentEventFeed> {
    await this.incidents.get(incidentId);
    const start = BigInt(after ?? 0);
    const watch: Watch = {
      feed: new IncidentEventFeed(incidentId, () => this.watches.delete(watch)),
      after: start,
      floor: start,
      seen: new Set(),
      marks: [],
    };
    this.watches.add(watch);
    this.schedule(0);
    return watch.feed;
  }

  private schedule(delay: number): void {
    if (this.timer || !this.watches.size) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.polling = this.poll()
        .catch((error: Error) => {
          this.logger.warn(`incident event streams: reading new events failed (${error.message}); retrying`);
          return false;
        })
        .then((full) => this.schedule(full ? 0 : this.pollMs));
    }, delay);
    this.timer.unref();
  }

  /** One read for every open stream; true when a stream got a full batch (more is waiting). */
  private async poll(): Promise<boolean> {
    const watches = [...this.watches];
    if (!watches.length) return false;
    const specs = watches.map((w, k) => ({
      k,
      incident: w.feed.incidentId,
      after: w.after.toString(),
      floor: w.floor.toString(),
      seen: [...w.seen].map(String),
    }));
    const rows: (EventRow & { k: number })[] = await this.dataSource.query(
      `SELECT e.*, w.k FROM jsonb_to_recordset($1::jsonb) AS w(k int, incident text, after bigint, floor bigint, seen bigint[])
       CROSS JOIN LATERAL (
         SELECT * FROM incident_events e
          WHERE e.incident_id = w.incident AND (e.id > w.after OR (e.id > w.floor AND e.id <> ALL (w.seen)))
          ORDER BY e.id LIMIT ${BATCH}) e
       ORDER BY w.k, e.id`,
      [JSON.stringify(specs)],
    );
    const counts = new Map<number, number>();
    for (const row of rows) {
      const watch = watches[row.k];
      counts.set(row.k, (counts.get(row.k) ?? 0) + 1);
      const id = BigInt(row.id);
      if (watch.feed.isEnded || (id <= watch.after && watch.seen.has(id))) continue;
      watch.seen.add(id);
      if (id > watch.after) watch.after = id;
      watch.feed.push({ ...row, id: String(row.id) }, watch.after.toString());
    }
    const now = Date.now();
    for (const watch of watches) this.moveFloor(watch, now);
    return [...counts.values()].some((n) => n >= BATCH);
  }

  /** The late window's floor follows the stream's position of `lateWindowMs` ago. */
  private moveFloor(watch: Watch, now: number): void {
    watch.marks.push({ at: now, after: watch.after });
    while (watch.marks.length && watch.marks[0].at <= now - this.lateWindowMs) watch.floor = watch.marks.shift()!.after;
    for (const id of watch.seen) if (id <= watch.floor) watch.seen.delete(id);
  }

  /** Open streams end as soon as the HTTP server starts closing (else the close would wait for them). */
  onModuleInit(): void {
    const server = this.adapterHost.httpAdapter?.getInstance?.() as
      { addHook?: (name: 'preClose', hook: () => Promise<void>) => void } | undefined;
    server?.addHook?.('preClose', async () => this.endAll());
  }

  async onModuleDestroy(): Promise<void> {
    this.endAll();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  private endAll(): void {
    for (const watch of [...this.watches]) watch.feed.end();
  }
}
