import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { AuditService } from '../../audit/audit.service';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/errors';
import { decodeCursor, encodeCursor, Page, pageSize } from '../../common/pagination';
import { Identity } from '../../common/request-context';
import { maskUrl } from '../../common/secrets';
import { INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { formatMatcher } from '../../integrations/alertmanager/alertmanager';
import { AlertmanagerPort, AmAlert, AmSilence } from '../../integrations/contracts';
import { IntegrationError } from '../../integrations/integration-error';
import { ALERTMANAGER } from '../../integrations/integrations.module';
import { remediationForAlert } from '../../procedures/suggestions';
import { AlertNotificationEntity, AlertSilenceEntity, StoredAlert } from './alert.entities';
import { AlertGroupModel, AlertNotificationModel, AlertsOverviewModel, FiringAlertModel, SilenceModel, WebhookReceipt } from './alerts.dto';
import { dedupeKey, payloadProblems, webhookPayload } from './webhook.schema';
import { DeliveriesHook, WebhookStore } from './webhook-store';

/** Each Alertmanager call of a request answers within this. */
const CALL_TIMEOUT_MS = 5000;

/** An Alertmanager failure as the operator sees it: 503 naming Alertmanager, what failed and what to check. */
export function alertmanagerUnavailable(error: unknown, url: string, what: string): unknown {
  if (!(error instanceof IntegrationError)) return error;
  return new DomainError(
    ErrorCode.DependencyUnavailable,
    `${what}: ${error.message}; check erp-alertmanager (${url}, GET /api/v2/status)`,
    {
      system: error.system,
      failure: error.failure,
      ...(error.status ? { status: error.status } : {}),
      alertmanager: url,
    },
  );
}

function toFiring(alert: AmAlert): FiringAlertModel {
  const alertname = alert.labels.alertname ?? null;
  return {
    fingerprint: alert.fingerprint,
    alertname,
    labels: alert.labels,
    annotations: alert.annotations,
    state: alert.status.state,
    silencedBy: alert.status.silencedBy,
    inhibitedBy: alert.status.inhibitedBy,
    startsAt: alert.startsAt,
    endsAt: alert.endsAt,
    generatorURL: alert.generatorURL ?? null,
    receivers: alert.receivers,
    remediation: remediationForAlert(alertname ?? undefined) ?? null,
  };
}

/** Firing alerts by alertname (largest group first), each group's alerts oldest first. */
export function groupAlerts(alerts: AmAlert[]): AlertGroupModel[] {
  const groups = new Map<string, AlertGroupModel>();
  for (const alert of alerts) {
    const name = alert.labels.alertname ?? '';
    let group = groups.get(name);
    if (!group) {
      group = {
        alertname: name,
        count: 0,
        active: 0,
        suppressed: 0,
        remediation: remediationForAlert(name || undefined) ?? null,
        alerts: [],
      };
      groups.set(name, group);
    }
    group.count++;
    if (alert.status.state === 'active') group.active++;
    if (alert.status.state === 'suppressed') group.suppressed++;
    group.alerts.push(toFiring(alert));
  }
  for (const group of groups.values())
    group.alerts.sort((a, b) => (a.startsAt < b.startsAt ? -1 : a.startsAt > b.startsAt ? 1 : a.fingerprint.localeCompare(b.fingerprint)));
  return [...groups.values()].sort((a, b) => b.count - a.count || a.alertname.localeCompare(b.alertname));
}

function toNotification(row: AlertNotificationEntity): AlertNotificationModel {
  return {
    id: row.id,
    receivedAt: row.receivedAt,
    receivedBy: row.receivedBy,
    status: row.status,
    receiver: row.receiver,
    groupKey: row.groupKey,
    groupLabels: row.groupLabels,
    commonLabels: row.commonLabels,
    externalURL: row.externalUrl,
    truncatedAlerts: row.truncatedAlerts,
    alertCount: row.alertCount,
    alertNames: row.alertNames,
    alerts: row.alerts,
  };
}

/** Alerts: what Alertmanager holds now, and what its webhook delivered. */
@Injectable()
export class AlertsService {
  private readonly shownUrl: string;
  private readonly webhooks: WebhookStore;

  constructor(
    @Inject(ALERTMANAGER) private readonly alertmanager: AlertmanagerPort,
    @Inject(INVENTORY) inventory: Inventory,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {
    this.shownUrl = maskUrl(inventory.urls.alertmanager);
    this.webhooks = new WebhookStore(
      dataSource,
      () => this.onDeliveries,
      (m, entries) => audit.appendWithin(m, entries),
    );
  }

  /** Firing alerts grouped by alertname with their procedures, and the silences (ours marked). */
  async overview(query: { expired?: boolean; filter?: string[] }): Promise<AlertsOverviewModel> {
    let alerts: AmAlert[];
    let silences: AmSilence[];
    try {
      [alerts, silences] = await Promise.all([
        this.alertmanager.alerts(
          { active: true, silenced: true, inhibited: true, unprocessed: true, filter: query.filter },
          { timeoutMs: CALL_TIMEOUT_MS },
        ),
        this.alertmanager.silences({ timeoutMs: CALL_TIMEOUT_MS }),
      ]);
    } catch (error) {
      // A filter Alertmanager itself refuses (e.g. a regex RE2 does not accept) is the client's mistake.
      if (error instanceof IntegrationError && error.failure === 'refused' && error.status === 400 && query.filter?.length) {
        throw DomainError.validation([
          { field: 'filter', problem: `Alertmanager refused it: ${error.message.replace(/^.*?HTTP 400 ?/, '') || 'bad matcher'}` },
        ]);
      }
      throw alertmanagerUnavailable(error, this.shownUrl, 'the alerts cannot be listed');
    }
    const shown = silences.filter((s) => query.expired === true || s.status.state !== 'expired');
    const ours = shown.length
      ? await this.dataSource.getRepository(AlertSilenceEntity).find({ where: { silenceId: In(shown.map((s) => s.id)) } })
      : [];
    const runOf = new Map(ours.map((row) => [row.silenceId, row.runId]));
    const order = { active: 0, pending: 1, expired: 2 } as const;
    const silenceModels: SilenceModel[] = shown
      .sort((a, b) => order[a.status.state] - order[b.status.state] || (a.startsAt < b.startsAt ? 1 : a.startsAt > b.startsAt ? -1 : 0))
      .map((s) => ({
        id: s.id,
        state: s.status.state,
        matchers: s.matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual !== false })),
        matchersText: s.matchers.map(formatMatcher).join(', '),
        startsAt: s.startsAt,
        endsAt: s.endsAt,
        createdBy: s.createdBy,
        comment: s.comment,
        createdByControlPlane: runOf.has(s.id),
        runId: runOf.get(s.id) ?? null,
      }));
    return {
      alertmanager: this.shownUrl,
      firing: alerts.length,
      active: alerts.filter((a) => a.status.state === 'active').length,
      suppressed: alerts.filter((a) => a.status.state === 'suppressed').length,
      groups: groupAlerts(alerts),
      silences: silenceModels,
    };
  }

  /** Stores a webhook notification once (Alertmanager retries on 5xx and repeats): stored false for a duplicate. */
  /**
   * `request` (the webhook route): the delivery's audit entry is written in the transaction
   * that stores it, so a 2xx always has its entry and a failed store has none of success.
   */
  async receive(
    body: unknown,
    identity: Identity,
    request?: { action: string; requestId: string | null; clientAddress: string | null },
  ): Promise<WebhookReceipt> {
    const parsed = webhookPayload.safeParse(body);
    if (!parsed.success) throw DomainError.validation(payloadProblems(parsed.error));
    const payload = parsed.data;
    const key = dedupeKey(payload);
    const alerts: StoredAlert[] = payload.alerts.map((a) => ({
      fingerprint: a.fingerprint.toLowerCase(),
      status: a.status,
      alertname: a.labels.alertname ?? null,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt,
      endsAt: a.endsAt,
      generatorURL: a.generatorURL || null,
      remediation: remediationForAlert(a.labels.alertname) ?? null,
    }));
    const names: Record<string, number> = {};
    for (const a of alerts) {
      const name = a.alertname ?? '';
      names[name] = (names[name] ?? 0) + 1;
    }
    const row: AlertNotificationEntity = {
      id: randomUUID(),
      dedupeKey: key,
      groupKey: payload.groupKey,
      status: payload.status,
      receiver: payload.receiver,
      groupLabels: payload.groupLabels,
      commonLabels: payload.commonLabels,
      externalUrl: payload.externalURL || null,
      truncatedAlerts: payload.truncatedAlerts,
      alertCount: alerts.length,
      alertNames: names,
      alerts,
      receivedBy: identity.username,
      receivedAt: this.clock.now(),
    };
    const audit = request
      ? this.audit.prepare({
          ...request,
          actor: identity,
          // The payload itself is stored once, in the notification the entry names (its target).
          parameters: {
            groupKey: payload.groupKey,
            status: payload.status,
            receiver: payload.receiver,
            alerts: alerts.length,
            alertNames: names,
          },
          outcome: 'success',
        })
      : undefined;
    return this.webhooks.store({ row, payload, audit });
  }

  /** Set by the incidents module: what new deliveries do to incidents, in their transaction. */
  onDeliveries?: DeliveriesHook;

  /** The received notifications, newest first. */
  async notifications(filter: {
    status?: 'firing' | 'resolved';
    alertname?: string;
    limit?: number;
    cursor?: string;
  }): Promise<Page<AlertNotificationModel>> {
    const size = pageSize(filter.limit);
    const qb = this.dataSource
      .getRepository(AlertNotificationEntity)
      .createQueryBuilder('n')
      .orderBy('n.receivedAt', 'DESC')
      .addOrderBy('n.id', 'DESC')
      .take(size + 1);
    if (filter.status) qb.andWhere('n.status = :status', { status: filter.status });
    if (filter.alertname !== undefined) qb.andWhere('(n.alert_names -> :alertname) IS NOT NULL', { alertname: filter.alertname });
    const after = decodeCursor(filter.cursor, ['date', 'uuid']);
    if (after) qb.andWhere('(n.received_at, n.id) < (:at, :id)', { at: new Date(after[0]), id: after[1] });
    const rows = await qb.getMany();
    const items = rows.slice(0, size);
    const last = items[items.length - 1];
    return {
      items: items.map(toNotification),
      nextCursor: rows.length > size ? encodeCursor([last.receivedAt.toISOString(), last.id]) : null,
    };
  }
}
