import { DataSource, EntityManager } from 'typeorm';
import { PendingEntry } from '../../audit/audit-spool';
import { Batcher } from '../../common/batcher';
import { AlertNotificationEntity } from './alert.entities';
import { WebhookReceipt } from './alerts.dto';
import { WebhookPayload } from './webhook.schema';

/** A delivery to store: its row and its payload. */
export interface Delivery {
  row: AlertNotificationEntity;
  payload: WebhookPayload;
  /** Its audit entry (target filled in once the notification's id is known), written in the same transaction. */
  audit?: PendingEntry;
}

/** Appends audit entries inside a transaction (AuditService.appendWithin). */
export type AuditWithin = (m: EntityManager, entries: PendingEntry[]) => Promise<unknown>;

/**
 * What stored deliveries do elsewhere (the incidents), inside the transaction that stores them:
 * one result per delivery; afterCommit runs once they are committed.
 */
export type DeliveriesHook = (
  m: EntityManager,
  deliveries: { payload: WebhookPayload; receivedAt: Date; receivedBy: string }[],
) => Promise<{ results: { opened: string[]; updated: string[] }[]; afterCommit?: () => void }>;

const COLUMNS = 14;
/** At most this many deliveries are stored in one transaction. */
const MAX_BATCH = 50;

function notificationValues(row: AlertNotificationEntity): unknown[] {
  return [
    row.id,
    row.dedupeKey,
    row.groupKey,
    row.status,
    row.receiver,
    JSON.stringify(row.groupLabels),
    JSON.stringify(row.commonLabels),
    row.externalUrl,
    row.truncatedAlerts,
    row.alertCount,
    JSON.stringify(row.alertNames),
    JSON.stringify(row.alerts),
    row.receivedBy,
    row.receivedAt,
  ];
}

/** No query builder: it is on the path of every delivery; a duplicate inserts nothing. */
function insertStatement(rows: number): string {
  const values = Array.from(
    { length: rows },
    (_, r) => `(${Array.from({ length: COLUMNS }, (_, c) => `$${r * COLUMNS + c + 1}`).join(', ')})`,
  );
  return `INSERT INTO alert_notifications (id, dedupe_key, group_key, status, receiver, group_labels, common_labels,
    external_url, truncated_alerts, alert_count, alert_names, alerts, received_by, received_at)
  VALUES ${values.join(', ')} ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key`;
}

/**
 * Stores webhook deliveries once each (Alertmanager retries on 5xx and HA peers send the same
 * group twice) and hands the new ones to the hook, in one transaction: a 2xx means both are in
 * the database. Deliveries arriving while a batch is written are stored together by the next
 * one (group commit: the same statements for one delivery or fifty), in arrival order.
 */
export class WebhookStore {
  private readonly batcher = new Batcher<Delivery, WebhookReceipt>((items) => this.storeWithRetry(items), MAX_BATCH);

  constructor(
    private readonly dataSource: DataSource,
    private readonly hook: () => DeliveriesHook | undefined,
    private readonly auditWithin: AuditWithin,
  ) {}

  store(delivery: Delivery): Promise<WebhookReceipt> {
    return this.batcher.submit(delivery);
  }

  private async storeWithRetry(items: Delivery[]): Promise<WebhookReceipt[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.storeBatch(items);
      } catch (error) {
        // One delivery storing an alert occurrence that another (of another group, or on another
        // replica) stores at the same moment: the loser starts over and finds it stored. A batch
        // goes back to the batcher, which stores its deliveries one by one.
        const code = (error as { code?: string }).code;
        if (items.length === 1 && (code === '23505' || code === '40P01') && attempt < 3) continue;
        throw error;
      }
    }
  }

  private async storeBatch(items: Delivery[]): Promise<WebhookReceipt[]> {
    let afterCommit: (() => void) | undefined;
    const receipts = await this.dataSource.transaction(async (m): Promise<WebhookReceipt[]> => {
      // Each key once, in key order: two batches inserting the same keys wait on each other in one order.
      const first = new Map<string, Delivery>();
      for (const d of items) if (!first.has(d.row.dedupeKey)) first.set(d.row.dedupeKey, d);
      const unique = [...first.values()].sort((a, b) => (a.row.dedupeKey < b.row.dedupeKey ? -1 : 1));
      const inserted: { id: string; dedupe_key: string }[] = await m.query(
        insertStatement(unique.length),
        unique.flatMap((d) => notificationValues(d.row)),
      );
      const ids = new Map(inserted.map((r) => [r.dedupe_key, r.id]));
      const stored = new Set(inserted.map((r) => r.dedupe_key));
      const missing = unique.map((d) => d.row.dedupeKey).filter((k) => !ids.has(k));
      if (missing.length) {
        const existing: { id: string; dedupe_key: string }[] = await m.query(
          'SELECT id, dedupe_key FROM alert_notifications WHERE dedupe_key = ANY($1::text[])',
          [missing],
        );
        for (const r of existing) ids.set(r.dedupe_key, r.id);
      }
      const fresh = items.filter((d) => stored.has(d.row.dedupeKey) && first.get(d.row.dedupeKey) === d);
      const hook = this.hook();
      const effects =
        hook && fresh.length
          ? await hook(
              m,
              fresh.map((d) => ({ payload: d.payload, receivedAt: d.row.receivedAt, receivedBy: d.row.receivedBy })),
            )
          : undefined;
      afterCommit = effects?.afterCommit;
      // Last: the chain's lock is held from here to the commit.
      const audited = items.filter((d) => d.audit);
      if (audited.length)
        await this.auditWithin(
          m,
          audited.map((d) => ({ ...d.audit!, target: `alert-notification:${ids.get(d.row.dedupeKey) ?? d.row.id}` })),
        );
      return items.map((d) => {
        const index = fresh.indexOf(d);
        if (index < 0) return { stored: false, id: ids.get(d.row.dedupeKey) ?? d.row.id };
        const result = effects?.results[index];
        return {
          stored: true,
          id: ids.get(d.row.dedupeKey)!,
          ...(result ? { incidents: { opened: result.opened, updated: result.updated } } : {}),
        };
      });
    });
    // Committed: nothing after this may fail the deliveries (a retry would store them again as duplicates).
    try {
      afterCommit?.();
    } catch {
      // the engine's periodic check picks up what a wake-up missed
    }
    return receipts;
  }
}
