import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { AlertmanagerPort } from '../../integrations/contracts';
import { ALERTMANAGER } from '../../integrations/integrations.module';
import { EscalationEngine } from './escalation.engine';
import { IncidentIntake } from './incident-intake';
import { updated } from './incident-store';

/**
 * Resolved notifications get lost (a restart of Alertmanager or of the control plane, a
 * silence, max_alerts truncation): every `incidents.reconcileSeconds`, the firing alerts of
 * open incidents are checked against Alertmanager's GET /api/v2/alerts, and those it no
 * longer has are recorded as resolved (then the incident's auto-resolve runs as usual).
 * Alertmanager not answering changes nothing.
 */
@Injectable()
export class IncidentReconcile implements OnModuleInit {
  private last = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(ALERTMANAGER) private readonly alertmanager: AlertmanagerPort,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly engine: EscalationEngine,
    private readonly intake: IncidentIntake,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.engine.onTick.push(() => this.maybeReconcile());
  }

  private async maybeReconcile(): Promise<void> {
    const every = Math.max(1, this.inventory.incidents.reconcileSeconds / this.config.OPS_INCIDENT_TIME_SCALE) * 1000;
    if (Date.now() - this.last < every) return;
    this.last = Date.now();
    await this.reconcile();
  }

  /** One reconciliation; answers the incidents whose alerts it resolved. */
  async reconcile(): Promise<string[]> {
    const firing: { fingerprint: string; starts_at: Date; incident_id: string }[] = await this.dataSource.query(
      `SELECT a.fingerprint, a.starts_at, a.incident_id FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id
       WHERE a.status = 'firing' AND i.status <> 'resolved' LIMIT 5000`,
    );
    if (!firing.length) return [];
    const active = await this.alertmanager.alerts(
      { active: true, silenced: true, inhibited: true, unprocessed: true },
      { timeoutMs: 5000 },
    );
    const present = new Set(active.map((a) => `${a.fingerprint.toLowerCase()}@${Date.parse(a.startsAt)}`));
    const presentFingerprints = new Set(active.map((a) => a.fingerprint.toLowerCase()));
    const gone = firing.filter((a) => !present.has(`${a.fingerprint}@${a.starts_at.getTime()}`) && !presentFingerprints.has(a.fingerprint));
    const touched = new Set<string>();
    const now = this.clock.now();
    for (const alert of gone) {
      await this.dataSource.transaction(async (m) => {
        const rows = await updated(
          m,
          `UPDATE incident_alerts SET status = 'resolved', resolved_at = $3, updated_at = $3
           WHERE fingerprint = $1 AND starts_at = $2 AND status = 'firing' RETURNING incident_id`,
          [alert.fingerprint, alert.starts_at, now],
        );
        if (!rows.length) return;
        await m.query("INSERT INTO incident_events (incident_id, at, type, message, data) VALUES ($1, $2, 'alert_resolved', $3, $4)", [
          alert.incident_id,
          now,
          `Alert ${alert.fingerprint} resolved (reconciled: Alertmanager no longer has it; its resolved notification was lost)`,
          JSON.stringify({ fingerprint: alert.fingerprint, startsAt: alert.starts_at, reconciled: true }),
        ]);
        await this.intake.scheduleAutoResolve(m, alert.incident_id, now);
        touched.add(alert.incident_id);
      });
    }
    for (const id of touched) await this.engine.wakeForIncident(id);
    return [...touched];
  }
}
