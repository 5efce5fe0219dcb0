import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull } from 'typeorm';
import { AlertSilenceEntity } from './alert.entities';

/** A silence the control plane created, as the alerts.storm procedure records it. */
export type SilenceRecord = AlertSilenceEntity;

/**
 * The alerts module's record of the silences the control plane made (who, which run, when it
 * was expired). The alerts.storm procedures write and read it through this service only.
 */
@Injectable()
export class SilenceRecordsService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private get table() {
    return this.dataSource.getRepository(AlertSilenceEntity);
  }

  async record(silence: SilenceRecord): Promise<void> {
    await this.table.insert(silence);
  }

  bySilenceId(silenceId: string): Promise<SilenceRecord | null> {
    return this.table.findOne({ where: { silenceId } });
  }

  /** The newest silence a run created. */
  latestOfRun(runId: string): Promise<SilenceRecord | null> {
    return this.table.findOne({ where: { runId }, order: { createdAt: 'DESC' } });
  }

  /** Marks a silence expired by a run (once: a silence already marked keeps its first expiry). */
  async markExpired(silenceId: string, byRun: string, at: Date): Promise<void> {
    await this.table.update({ silenceId, expiredAt: IsNull() }, { expiredAt: at, expiredByRun: byRun });
  }
}
