import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from '../infra/metrics/metrics.service';
import { AuditService } from './audit.service';

/** The first 48 bits of a hex hash as a number (exact in a float64, so Prometheus keeps it). */
export function hash48(hash: string): number {
  return Number.parseInt(hash.slice(0, 12), 16);
}

/**
 * Anchors the audit chain's head outside the database every OPS_AUDIT_ANCHOR_SECONDS (when
 * it grew): a signed line in the anchor file, a log line, and gauges in /metrics
 * (`ops_audit_anchor_entry_id`, `ops_audit_anchor_hash48`: the hash's first 48 bits), so
 * that Prometheus keeps the anchors' history as well. Also at start and at shutdown.
 */
@Injectable()
export class AuditAnchorService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditAnchor');
  private timer?: NodeJS.Timeout;
  private lastId: string | null = null;
  private running?: Promise<void>;
  private readonly entryId: Gauge;
  private readonly hash: Gauge;
  private readonly time: Gauge;

  constructor(
    private readonly audit: AuditService,
    private readonly clock: Clock,
    metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const registers = [metrics.registry];
    this.entryId = new Gauge({
      name: 'ops_audit_anchor_entry_id',
      help: 'Id of the audit entry last anchored outside the database',
      registers,
    });
    this.hash = new Gauge({
      name: 'ops_audit_anchor_hash48',
      help: 'First 48 bits of the hash of the audit entry last anchored (compare with the anchor file)',
      registers,
    });
    this.time = new Gauge({ name: 'ops_audit_anchor_timestamp_seconds', help: 'Unix time of the last audit anchor', registers });
  }

  onApplicationBootstrap(): void {
    const latest = this.audit.anchorFile.read().anchors.at(-1);
    if (latest) {
      this.lastId = latest.id;
      this.show(latest.id, latest.hash, new Date(latest.at));
    }
    void this.anchorNow();
    this.timer = setInterval(() => void this.anchorNow(), this.config.OPS_AUDIT_ANCHOR_SECONDS * 1000);
    this.timer.unref();
  }

  /** Before the database connections close: the last head this process saw is anchored. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.anchorNow();
  }

  private show(id: string, hash: string, at: Date): void {
    this.entryId.set(Number(id));
    this.hash.set(hash48(hash));
    this.time.set(at.getTime() / 1000);
  }

  /** Anchors the current head if it moved since the last anchor (one at a time). */
  anchorNow(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        const head = await this.audit.head();
        if (!head || head.id === this.lastId) return;
        const anchor = this.audit.anchorFile.append(head.id, head.hash, this.clock.now());
        this.lastId = head.id;
        this.show(anchor.id, anchor.hash, new Date(anchor.at));
        this.logger.log({ auditAnchor: { id: anchor.id, hash: anchor.hash, at: anchor.at, keyId: anchor.keyId } }, 'audit chain anchored');
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'the audit chain could not be anchored this time');
      }
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }
}
