import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Clock } from '../../common/clock';
import { decodeCursor, encodeCursor, Page, pageSize } from '../../common/pagination';
import { Identity } from '../../common/request-context';
import { maskSecrets } from '../../common/secrets';
import { AuditEntryEntity, AuditOutcome } from './audit-entry.entity';
import { entryHash, GENESIS_HASH } from './canonical';

export interface AuditRecord {
  actor: Identity | { username: string; role?: string | null };
  action: string;
  target?: string | null;
  parameters?: unknown;
  outcome: AuditOutcome;
  errorCode?: string | null;
  requestId?: string | null;
  clientAddress?: string | null;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  outcome?: AuditOutcome;
  from?: Date;
  to?: Date;
  limit?: number;
  cursor?: string;
}

export interface AuditVerification {
  valid: boolean;
  checked: number;
  firstBrokenId: string | null;
}

const CHAIN_LOCK = 7_340_002;
const MAX_PARAMETERS_BYTES = 8192;

/**
 * A string as PostgreSQL will store it: well-formed UTF-16 (a lone surrogate would be stored
 * as U+FFFD and break the hash chain), no NUL, at most `max` code points.
 */
export function storable(value: string, max = Infinity): string {
  const clean = value.toWellFormed().replace(/\u0000/g, '');
  if (clean.length <= max) return clean;
  return Array.from(clean).slice(0, max).join('');
}

function storableDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return storable(value);
  if (depth > 10 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => storableDeep(v, depth + 1));
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [storable(k), storableDeep(v, depth + 1)]));
}

/** Makes parameters safe and stable: secrets masked, JSON-only, bounded, well-formed, no NUL. */
function normaliseParameters(parameters: unknown): Record<string, unknown> {
  if (parameters === undefined || parameters === null) return {};
  const masked = storableDeep(maskSecrets(parameters));
  let json = JSON.stringify(typeof masked === 'object' && !Array.isArray(masked) ? masked : { value: masked }) ?? '{}';
  json = json.replace(/\\u0000/g, '');
  if (json.length > MAX_PARAMETERS_BYTES) return { truncated: true, preview: json.slice(0, 1024) };
  return JSON.parse(json);
}

@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  /** Appends one entry to the hash chain (serialised by an advisory lock). */
  async record(record: AuditRecord): Promise<AuditEntryEntity> {
    const parameters = normaliseParameters(record.parameters);
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
      const last: { hash: string }[] = await manager.query('SELECT hash FROM audit_entries ORDER BY id DESC LIMIT 1');
      const [{ id }]: { id: string }[] = await manager.query("SELECT nextval('audit_entries_id_seq')::text AS id");
      const entry = new AuditEntryEntity();
      entry.id = id;
      entry.at = this.clock.now();
      entry.actor = storable(record.actor.username || 'anonymous', 128);
      entry.actorRole = (record.actor as { role?: string | null }).role ?? null;
      entry.action = storable(record.action, 100);
      entry.target = record.target ? storable(String(record.target), 255) : null;
      entry.parameters = parameters;
      entry.outcome = record.outcome;
      entry.errorCode = record.errorCode ?? null;
      entry.requestId = record.requestId ? storable(record.requestId, 64) : null;
      entry.clientAddress = record.clientAddress ? storable(record.clientAddress, 64) : null;
      entry.prevHash = last[0]?.hash ?? GENESIS_HASH;
      entry.hash = entryHash(entry.prevHash, entry);
      await manager.insert(AuditEntryEntity, entry as never);
      return entry;
    });
  }

  /** Like record(), but never throws: an audit failure is logged, not hidden. */
  async recordSafely(record: AuditRecord): Promise<void> {
    try {
      await this.record(record);
    } catch (error) {
      this.logger.error({ action: record.action, err: (error as Error).message }, 'audit entry could not be written');
    }
  }

  async list(filter: AuditFilter): Promise<Page<AuditEntryEntity>> {
    const limit = pageSize(filter.limit);
    const qb = this.dataSource.getRepository(AuditEntryEntity).createQueryBuilder('e');
    if (filter.actor) qb.andWhere('e.actor = :actor', { actor: filter.actor });
    if (filter.action) qb.andWhere('e.action = :action', { action: filter.action });
    if (filter.outcome) qb.andWhere('e.outcome = :outcome', { outcome: filter.outcome });
    if (filter.from) qb.andWhere('e.at >= :from', { from: filter.from });
    if (filter.to) qb.andWhere('e.at < :to', { to: filter.to });
    const cursor = decodeCursor(filter.cursor, ['integer']);
    if (cursor) qb.andWhere('e.id < :before', { before: String(cursor[0]) });
    const rows = await qb
      .orderBy('e.id', 'DESC')
      .take(limit + 1)
      .getMany();
    const items = rows.slice(0, limit);
    return { items, nextCursor: rows.length > limit ? encodeCursor([items[items.length - 1].id]) : null };
  }

  /** Recomputes the whole chain; reports the first entry whose hash or link is wrong. */
  async verify(): Promise<AuditVerification> {
    const repo = this.dataSource.getRepository(AuditEntryEntity);
    let prevHash = GENESIS_HASH;
    let checked = 0;
    let afterId = '0';
    for (;;) {
      const batch = await repo
        .createQueryBuilder('e')
        .where('e.id > :afterId', { afterId })
        .orderBy('e.id', 'ASC')
        .take(2000)
        .getMany();
      if (batch.length === 0) break;
      for (const entry of batch) {
        checked += 1;
        if (entry.prevHash !== prevHash || entryHash(entry.prevHash, entry) !== entry.hash) {
          return { valid: false, checked, firstBrokenId: entry.id };
        }
        prevHash = entry.hash;
        afterId = entry.id;
      }
    }
    return { valid: true, checked, firstBrokenId: null };
  }
}
