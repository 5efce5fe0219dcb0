import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter, Gauge, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';
import { MetricsService } from '../../infra/metrics/metrics.service';
import { IncidentRow } from './incident-store';

const BUCKETS = [30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400];

const SEVERITIES = ['P1', 'P2', 'P3', 'P4'] as const;

/**
 * The incidents' metrics on the control plane's /metrics. ops_incidents_open is read from
 * the database at every scrape (every replica shows the same figure, whichever replica made
 * the change, and a replica that just started shows it too); the histograms and counters
 * count what this replica did, after its transaction committed.
 */
@Injectable()
export class IncidentMetrics {
  readonly open: Gauge<'severity'>;
  readonly timeToAcknowledge: Histogram<'severity'>;
  readonly timeToResolve: Histogram<'severity'>;
  readonly escalations: Counter<'severity'>;
  readonly pages: Counter<'channel' | 'outcome'>;

  constructor(metrics: MetricsService, @InjectDataSource() dataSource: DataSource) {
    const registers = [metrics.registry];
    const refresh = () => this.refreshOpen(dataSource);
    this.open = new Gauge({
      name: 'ops_incidents_open',
      help: 'Incidents not resolved, by severity',
      labelNames: ['severity'],
      registers,
      // At each scrape; a database that does not answer leaves the last figures (the scrape still answers).
      collect: () => refresh().catch(() => undefined),
    });
    this.timeToAcknowledge = new Histogram({
      name: 'ops_incident_time_to_acknowledge_seconds',
      help: 'From an incident opening to its first acknowledgement',
      labelNames: ['severity'],
      buckets: BUCKETS,
      registers,
    });
    this.timeToResolve = new Histogram({
      name: 'ops_incident_time_to_resolve_seconds',
      help: 'From an incident opening to its resolution',
      labelNames: ['severity'],
      buckets: BUCKETS,
      registers,
    });
    this.escalations = new Counter({
      name: 'ops_incident_escalations_total',
      help: 'Escalation steps fired (nobody acknowledged within the response time)',
      labelNames: ['severity'],
      registers,
    });
    this.pages = new Counter({
      name: 'ops_incident_pages_total',
      help: 'Pages (one person, one channel) sent or failed for good',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    for (const severity of SEVERITIES) this.open.set({ severity }, 0);
  }

  /** Sets ops_incidents_open from the database (every replica shows the same figure). */
  async refreshOpen(dataSource: DataSource): Promise<void> {
    const rows: { severity: string; n: number }[] = await dataSource.query(
      "SELECT severity, count(*)::int AS n FROM incidents WHERE status <> 'resolved' GROUP BY severity",
    );
    for (const severity of SEVERITIES) this.open.set({ severity }, rows.find((r) => r.severity === severity)?.n ?? 0);
  }

  observeAcknowledged(incident: Pick<IncidentRow, 'severity' | 'created_at' | 'first_acknowledged_at'>, at: Date): void {
    if (incident.first_acknowledged_at) return;
    this.timeToAcknowledge.observe({ severity: incident.severity }, (at.getTime() - incident.created_at.getTime()) / 1000);
  }

  observeResolved(incident: Pick<IncidentRow, 'severity' | 'created_at'>, at: Date): void {
    this.timeToResolve.observe({ severity: incident.severity }, (at.getTime() - incident.created_at.getTime()) / 1000);
  }
}
