import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { DataSource, EntityManager } from 'typeorm';
import { closeQueueClients } from '../../common/bounded-close';
import { Clock } from '../../common/clock';
import { throttledWarn } from '../../common/throttled-log';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { NotifierPort } from '../../integrations/contracts';
import { NOTIFIER } from '../../integrations/integrations.module';
import { IncidentLifecycle } from './incident-lifecycle';
import { addEvent, IncidentRow, updated } from './incident-store';
import { IncidentMetrics } from './incident.metrics';

interface PageRow {
  id: string;
  incident_id: string;
  reason: string;
  person: string;
  channel: 'chat' | 'email';
  target: string;
  subject: string;
  body: string;
  attempts: number;
  severity: string;
}

/** A claimed page is someone else's for this long (then another replica may send it). */
const CLAIM_SECONDS = 60;
/** A page is tried this many times before it is recorded as failed. */
const MAX_ATTEMPTS = 3;
export const INCIDENTS_QUEUE = 'incidents';
/** How long a wake-up job may take to queue before the caller goes on without it (the periodic check covers it). */
const WAKE_QUEUE_WAIT_MS = 2000;

/**
 * The incidents' timers and the sending of pages. The truth is in PostgreSQL (each open
 * incident's next escalation, acknowledgement expiry, status reminder, auto-resolve, report
 * due); a delayed job on the queue wakes the replicas on time, and every replica also checks
 * every OPS_INCIDENT_CHECK_MS, so a Redis that lost its jobs loses no timer. Each change is a
 * transaction whose WHERE clause only one replica can satisfy: a timer fires once.
 */
@Injectable()
export class EscalationEngine implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(EscalationEngine.name);
  private readonly warn = throttledWarn((message) => this.logger.warn(message));
  private interval?: NodeJS.Timeout;
  private queue?: Queue;
  private worker?: Worker;
  private connection?: Redis;
  private running?: Promise<void>;
  private again = false;
  private closing = false;
  /** Extra work done on every tick (the incident service's plans and runs). */
  readonly onTick: (() => Promise<void>)[] = [];

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(NOTIFIER) private readonly notifier: NotifierPort,
    private readonly lifecycle: IncidentLifecycle,
    private readonly clock: Clock,
    private readonly metrics: IncidentMetrics,
  ) {}

  onModuleInit(): void {
    if (!this.config.OPS_INCIDENT_TIMERS) return;
    this.interval = setInterval(() => this.kick(), this.config.OPS_INCIDENT_CHECK_MS);
    this.interval.unref();
    this.connection = new Redis(this.config.OPS_REDIS_URL, { maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
    const prefix = `${this.config.OPS_REDIS_PREFIX}bull`;
    this.queue = new Queue(INCIDENTS_QUEUE, { connection: this.connection, prefix });
    this.queue.on('error', (error) => this.warn(`incidents queue: ${error.message}`));
    this.worker = new Worker(INCIDENTS_QUEUE, async () => this.runOnce(), { connection: this.connection, prefix, concurrency: 1 });
    this.worker.on('error', (error) => this.warn(`incidents queue: ${error.message}`));
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.interval);
    await this.running?.catch(() => undefined);
    await closeQueueClients({ worker: this.worker, queue: this.queue, connection: this.connection });
  }

  /** Asks the replicas to look at the timers at `at` (a delayed job; the periodic check covers a lost one). */
  async wakeAt(at: Date | null | undefined): Promise<void> {
    if (!at || !this.queue || this.closing) return;
    // Never wait for Redis: with it away (its commands would queue until it is back) the timers'
    // pass and the requests that changed an incident would stall. The periodic check covers it.
    if (this.connection?.status !== 'ready') return;
    const delay = Math.max(0, at.getTime() - this.clock.now().getTime());
    const added = this.queue
      .add('wake', {}, { jobId: `wake-${at.getTime()}`, delay, removeOnComplete: true, removeOnFail: true })
      .then(() => undefined)
      .catch((error: Error) => this.warn(`incidents wake-up not queued (the periodic check covers it): ${error.message}`));
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, WAKE_QUEUE_WAIT_MS);
      timer.unref();
    });
    await Promise.race([added, gaveUp]);
    clearTimeout(timer);
  }

  /** Runs the timers and the outbox soon (in this process); overlapping kicks run once more, not twice at once. */
  kick(): void {
    // A replica with OPS_INCIDENT_TIMERS=false does no incident work in the background at all
    // (no pages, plans or timers): the replicas that run the timers pick it up.
    if (this.closing || !this.config.OPS_INCIDENT_TIMERS) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.runOnce()
      .catch((error: Error) => this.warn(`incident timers: ${error.message}`))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** One pass: every due timer, then the pages waiting to be sent. */
  async runOnce(): Promise<void> {
    await this.fireDue();
    await this.dispatch();
    for (const work of this.onTick) await work().catch((error: Error) => this.warn(`incidents: ${error.message}`));
  }

  private async fireDue(): Promise<void> {
    const now = this.clock.now();
    const due: { id: string; kind: string }[] = await this.dataSource.query(
      `SELECT id, 'escalate' AS kind FROM incidents WHERE status = 'triggered' AND next_escalation_at <= $1
       UNION ALL SELECT id, 'ack' FROM incidents WHERE status = 'acknowledged' AND ack_expires_at <= $1
       UNION ALL SELECT id, 'status' FROM incidents WHERE status <> 'resolved' AND next_status_update_at <= $1
       UNION ALL SELECT id, 'resolve' FROM incidents WHERE status <> 'resolved' AND resolve_at <= $1
       UNION ALL SELECT id, 'report' FROM incidents WHERE status = 'resolved' AND report_due_at <= $1
         AND report_submitted_at IS NULL AND report_reminded_at IS NULL
       LIMIT 500`,
      [now],
    );
    for (const { id, kind } of due) {
      const fired = await this.dataSource.transaction(async (m) => {
        if (kind === 'escalate') return this.lifecycle.escalate(m, id, now);
        if (kind === 'ack') return this.lifecycle.ackExpired(m, id, now);
        if (kind === 'status') return this.lifecycle.statusUpdateDue(m, id, now);
        if (kind === 'report') return this.lifecycle.reportLate(m, id, now);
        return this.autoResolve(m, id, now);
      });
      if (fired) {
        if (kind === 'escalate') await this.countEscalation(id);
        await this.wakeForIncident(id);
      }
    }
    if (due.length) await this.metrics.refreshOpen(this.dataSource);
  }

  /** Counts an escalation that paged a step (the chain running out fires too, and pages nobody). */
  private async countEscalation(id: string): Promise<void> {
    const rows: { severity: string; last: string | null }[] = await this.dataSource.query(
      `SELECT i.severity, (SELECT e.type FROM incident_events e WHERE e.incident_id = i.id AND e.type IN ('escalated', 'chain_exhausted')
         ORDER BY e.id DESC LIMIT 1) AS last FROM incidents i WHERE i.id = $1`,
      [id],
    );
    if (rows[0]?.last === 'escalated') this.metrics.escalations.inc({ severity: rows[0].severity });
  }

  private async autoResolve(m: EntityManager, id: string, now: Date): Promise<boolean> {
    const rows: (IncidentRow & { firing: number })[] = await m.query(
      `SELECT i.*, (SELECT count(*)::int FROM incident_alerts a WHERE a.incident_id = i.id AND a.status = 'firing') AS firing
       FROM incidents i WHERE i.id = $1 AND i.status <> 'resolved' AND i.resolve_at <= $2 FOR NO KEY UPDATE OF i`,
      [id, now],
    );
    const incident = rows[0];
    if (!incident) return false;
    if (incident.firing > 0) {
      await m.query('UPDATE incidents SET resolve_at = NULL WHERE id = $1', [id]);
      return false;
    }
    await this.lifecycle.resolve(
      m,
      incident,
      'alertmanager',
      now,
      'Resolved: every alert of the incident resolved and stayed resolved for the grace period',
    );
    this.metrics.observeResolved(incident, now);
    return true;
  }

  /** Queues the wake-ups of an incident's timers. */
  async wakeForIncident(id: string): Promise<void> {
    const rows: IncidentRow[] = await this.dataSource.query('SELECT * FROM incidents WHERE id = $1', [id]);
    const i = rows[0];
    if (!i) return;
    for (const at of [
      i.next_escalation_at,
      i.ack_expires_at,
      i.next_status_update_at,
      i.resolve_at,
      i.report_submitted_at ? null : i.report_due_at,
    ])
      await this.wakeAt(at);
  }

  /** Sends the pages no replica holds: claims a batch (SKIP LOCKED), sends each, records the outcome in the timeline. */
  async dispatch(): Promise<void> {
    for (;;) {
      const claimed = await updated<PageRow>(
        this.dataSource,
        `UPDATE incident_pages p SET claimed_until = now() + make_interval(secs => ${CLAIM_SECONDS}), attempts = p.attempts + 1
         FROM incidents i
         WHERE p.id IN (SELECT id FROM incident_pages WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until < now())
                        ORDER BY created_at LIMIT 20 FOR UPDATE SKIP LOCKED)
           AND i.id = p.incident_id
         RETURNING p.id, p.incident_id, p.reason, p.person, p.channel, p.target, p.subject, p.body, p.attempts, i.severity`,
      );
      if (!claimed.length) return;
      await Promise.all(claimed.map((page) => this.send(page)));
    }
  }

  private async send(page: PageRow): Promise<void> {
    const notifications = this.inventory.notifications;
    const chatChannel =
      page.person === 'team' ? page.target : page.severity === 'P1' ? notifications.emergencyChannel : notifications.slackChannel;
    const [delivery] = await this.notifier.send(
      {
        subject: page.subject,
        text: page.body,
        channels: [page.channel],
        recipients: page.channel === 'email' ? { email: [page.target] } : { chatChannel },
      },
      { retries: 0, timeoutMs: 10_000 },
    );
    const now = this.clock.now();
    const failedForGood = !delivery?.delivered && (page.attempts >= MAX_ATTEMPTS || !!delivery?.skipped);
    const status = delivery?.delivered ? 'sent' : failedForGood ? 'failed' : null;
    await this.dataSource.transaction(async (m) => {
      if (status) {
        const rows = await updated(
          m,
          `UPDATE incident_pages SET status = $2::text, sent_at = CASE WHEN $2::text = 'sent' THEN $3::timestamptz ELSE NULL END, error = $4
           WHERE id = $1 AND status = 'pending' RETURNING id`,
          [page.id, status, now, delivery?.error ?? delivery?.skipped ?? null],
        );
        if (!rows.length && status !== 'sent') return;
      } else {
        // Try again after a pause: released in 5 s, not at the claim's end.
        await m.query("UPDATE incident_pages SET claimed_until = now() + interval '5 seconds', error = $2 WHERE id = $1", [
          page.id,
          delivery?.error ?? 'not delivered',
        ]);
        return;
      }
      const who = page.person === 'team' ? 'the team' : page.person;
      const type = delivery?.delivered ? 'notification_sent' : 'notification_failed';
      const what = delivery?.delivered
        ? `Notified ${who} by ${page.channel} (${delivery.target})`
        : `Notifying ${who} by ${page.channel} failed${failedForGood ? ` after ${page.attempts} attempts` : ''}: ${delivery?.error ?? delivery?.skipped ?? 'unknown'}`;
      await addEvent(m, page.incident_id, now, type, what, null, {
        person: page.person,
        channel: page.channel,
        reason: page.reason,
        target: delivery?.target,
      });
    });
    if (delivery?.delivered) this.metrics.pages.inc({ channel: page.channel, outcome: 'sent' });
    else if (failedForGood) this.metrics.pages.inc({ channel: page.channel, outcome: 'failed' });
  }
}
