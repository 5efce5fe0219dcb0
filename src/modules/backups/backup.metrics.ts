import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../../infra/metrics/metrics.service';
import { BackupService } from './backup.service';

/**
 * The backup metrics the ERP's alert rules expect (BackupFailed: backup_last_successful_timestamp
 * older than a day; BackupSizeAbnormal: backup_size_bytes), plus the last verification, read
 * from the catalog at scrape time so every replica reports the same.
 */
@Injectable()
export class BackupMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly backups: BackupService,
  ) {}

  onModuleInit(): void {
    const backups = this.backups;
    let snapshot: ReturnType<BackupService['metricsSnapshot']> | null = null;
    // One catalog read per scrape for the three gauges.
    const read = () => {
      if (!snapshot) {
        snapshot = backups.metricsSnapshot().catch(() => ({ lastSuccessful: null, lastVerifiedAt: null }));
        setTimeout(() => (snapshot = null), 500).unref();
      }
      return snapshot;
    };
    new Gauge({
      name: 'backup_last_successful_timestamp',
      help: 'Unix time (seconds) the newest successful backup of the ERP database was written',
      registers: [this.metrics.registry],
      async collect() {
        const s = await read();
        if (s.lastSuccessful) this.set(s.lastSuccessful.createdAt.getTime() / 1000);
      },
    });
    new Gauge({
      name: 'backup_size_bytes',
      help: 'Size in bytes of the newest successful backup file',
      registers: [this.metrics.registry],
      async collect() {
        const s = await read();
        if (s.lastSuccessful) this.set(s.lastSuccessful.sizeBytes);
      },
    });
    new Gauge({
      name: 'backup_last_verified_timestamp',
      help: 'Unix time (seconds) a backup last passed verification (restore drill)',
      registers: [this.metrics.registry],
      async collect() {
        const s = await read();
        if (s.lastVerifiedAt) this.set(s.lastVerifiedAt.getTime() / 1000);
      },
    });
  }
}
