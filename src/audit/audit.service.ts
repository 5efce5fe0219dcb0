import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../common/clock';
import { decodeCursor, encodeCursor, Page, pageSize } from '../common/pagination';
import { Identity, viaOf } from '../common/request-context';
import { maskSecrets } from '../common/secrets';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { MASTER_KEY, MasterKey } from '../config/master-key';
import { Anchor, AnchorFile } from './audit-anchors';
import { AuditEntryEntity, AuditOutcome } from './audit-entry.entity';
import { AuditSpool, PendingEntry } from './audit-spool';
import { AuditWriter } from './audit-writer';
import { entryHash, entryMac, GENESIS_HASH } from './canonical';

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

export interface IdRange {
  fromId: string;
  toId: string;
}

export interface AuditVerification {
  valid: boolean;
  checked: number;
  /** The first entry whose hash or link does not match. */
  firstBrokenId: string | null;
  /** Runs of entries whose hash or link does not match (rewritten, or following removed entries). */
  brokenRanges: IdRange[];
  /** Anchored entries that differ from their anchor (rewritten) or are gone (removed). */
  anchorMismatches: { id: string; anchoredAt: string; problem: 'rewritten' | 'missing' }[];
  /** The newest entries are gone: the chain ends before an entry that was anchored. */
  truncated: { lastEntryId: string | null; anchoredEntryId: string; anchoredAt: string } | null;
  anchors: { file: string; count: number; latestEntryId: string | null; latestAt: string | null };
  /** The master key's public fingerprint (entries and anchors of another key do not verify). */
  keyId: string;
  /** Each finding as a sentence. */
  problems: string[];
}

const MAX_PARAMETERS_BYTES = 8192;
const REPLAY_INTERVAL_MS = 5000;

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

function addToRanges(ranges: IdRange[], id: string, previousId: string | null): void {
  const last = ranges[ranges.length - 1];
  if (last && previousId !== null && last.toId === previousId) last.toId = id;
  else ranges.push({ fromId: id, toId: id });
}

/**
 * The audit trail: append-only (a trigger refuses UPDATE, DELETE and TRUNCATE) and chained
 * with an HMAC whose key is not in the database, so that its owner can neither rewrite an
 * entry nor recompute the chain after one. Its head is anchored outside the database at a
 * fixed interval (AuditAnchors), which is how a removed tail is found. An entry that cannot be
 * written (the database unreachable) waits in a local spool and is appended when it can be:
 * nothing is lost.
 */
@Injectable()
export class AuditService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(AuditService.name);
  readonly anchorFile: AnchorFile;
  private readonly spool: AuditSpool;
  private readonly writer: AuditWriter;
  private replayTimer?: NodeJS.Timeout;
  private replaying?: Promise<void>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly clock: Clock,
    @Inject(MASTER_KEY) private readonly masterKey: MasterKey,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.anchorFile = new AnchorFile(config.OPS_AUDIT_ANCHOR_FILE, masterKey);
    this.spool = new AuditSpool(config.OPS_AUDIT_SPOOL_DIR);
    this.writer = new AuditWriter(dataSource, () => masterKey.key('audit-chain'));
  }

  onModuleInit(): void {
    this.replayTimer = setInterval(() => void this.replaySpool(), REPLAY_INTERVAL_MS);
    this.replayTimer.unref();
    void this.replaySpool();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.replayTimer);
    await this.replaying;
  }

  private pending(record: AuditRecord, at = this.clock.now()): PendingEntry {
    const actor = record.actor as Partial<Identity> & { username: string; role?: string | null };
    return {
      at: at.toISOString(),
      actor: storable(actor.username || 'anonymous', 128),
      actorRole: actor.role ?? null,
      actorVia: 'kind' in actor && actor.kind ? viaOf(actor as Identity) : null,
      action: storable(record.action, 100),
      target: record.target ? storable(String(record.target), 255) : null,
      parameters: normaliseParameters(record.parameters),
      outcome: record.outcome,
      errorCode: record.errorCode ?? null,
      requestId: record.requestId ? storable(record.requestId, 64) : null,
      clientAddress: record.clientAddress ? storable(record.clientAddress, 64) : null,
    };
  }

  /** An entry ready to append (secrets masked, parameters bounded), for appendWithin. */
  prepare(record: AuditRecord): PendingEntry {
    return this.pending(record);
  }

  /**
   * Appends entries inside the caller's transaction, so that they commit (or not) with the
   * change they record. Takes the chain's lock until that transaction ends: call it last.
   */
  appendWithin(manager: EntityManager, entries: PendingEntry[]): Promise<AuditEntryEntity[]> {
    return this.writer.appendWithin(manager, entries);
  }

  /** Appends one entry; throws when the database cannot take it. */
  async record(record: AuditRecord): Promise<AuditEntryEntity> {
    return this.writer.append(this.pending(record));
  }

  /**
   * Like record(), but never throws: an entry the database cannot take now goes to the local
   * spool (on disk, synced) and is appended as soon as it can be.
   */
  async recordSafely(record: AuditRecord): Promise<void> {
    let pending: PendingEntry;
    try {
      pending = this.pending(record);
    } catch (error) {
      this.logger.error({ action: record.action, err: (error as Error).message }, 'audit entry could not be prepared');
      return;
    }
    try {
      await this.writer.append(pending);
    } catch (error) {
      try {
        this.spool.add(pending);
        this.logger.warn(
          { action: pending.action, requestId: pending.requestId, err: (error as Error).message },
          'audit entry spooled: the database did not take it; it is appended when it can be',
        );
      } catch (spoolError) {
        this.logger.error(
          { action: pending.action, requestId: pending.requestId, err: (error as Error).message, spool: (spoolError as Error).message },
          'audit entry could not be written or spooled',
        );
      }
    }
  }

  /** Appends what waits in the spool, in order; stops at the first entry the database refuses. */
  replaySpool(): Promise<void> {
    if (this.replaying) return this.replaying;
    this.replaying = (async () => {
      if (!this.spool.pending()) return;
      for (const file of this.spool.claim()) {
        let appended = 0;
        for (const entry of this.spool.read(file)) {
          try {
            if (await this.writer.appendOnce(entry)) appended++;
          } catch (error) {
            this.logger.warn({ err: (error as Error).message, file }, 'audit spool: the database does not take entries yet');
            return;
          }
        }
        this.spool.done(file);
        if (appended) this.logger.log({ appended, file }, 'audit spool replayed');
      }
    })().finally(() => {
      this.replaying = undefined;
    });
    return this.replaying;
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

  /** The chain's newest entry (what an anchor records). */
  async head(): Promise<{ id: string; hash: string } | null> {
    const rows: { id: string; hash: string }[] = await this.dataSource.query(
      'SELECT id::text AS id, hash FROM audit_entries ORDER BY id DESC LIMIT 1',
    );
    return rows[0] ?? null;
  }

  /**
   * Recomputes the whole chain (version 1 entries with SHA-256, only as its beginning;
   * version 2 with the audit key) and compares it with the anchors kept outside the database:
   * names every broken run of entries, every anchored entry rewritten or removed, and a
   * removed tail.
   */
  async verify(): Promise<AuditVerification> {
    const repo = this.dataSource.getRepository(AuditEntryEntity);
    const key = this.masterKey.key('audit-chain');
    const { anchors, problems: anchorProblems } = this.anchorFile.read();
    const anchored = new Map<string, Anchor>();
    for (const anchor of anchors) anchored.set(anchor.id, anchor);
    const seen = new Set<string>();
    const brokenRanges: IdRange[] = [];
    const anchorMismatches: AuditVerification['anchorMismatches'] = [];
    let prevHash = GENESIS_HASH;
    let previousId: string | null = null;
    let keyed = false;
    let checked = 0;
    let afterId = '0';
    for (;;) {
      const batch = await repo.createQueryBuilder('e').where('e.id > :afterId', { afterId }).orderBy('e.id', 'ASC').take(2000).getMany();
      if (batch.length === 0) break;
      for (const entry of batch) {
        checked += 1;
        let sealed: boolean;
        if (entry.chainVersion === 2) {
          keyed = true;
          sealed = entryMac(key, entry.prevHash, entry) === entry.hash;
        } else {
          // An unkeyed entry after a keyed one is a forgery: version 1 only begins the chain.
          sealed = !keyed && entryHash(entry.prevHash, entry) === entry.hash;
        }
        if (entry.prevHash !== prevHash || !sealed) addToRanges(brokenRanges, entry.id, previousId);
        const anchor = anchored.get(entry.id);
        if (anchor && anchor.hash !== entry.hash) anchorMismatches.push({ id: entry.id, anchoredAt: anchor.at, problem: 'rewritten' });
        if (anchor) seen.add(entry.id);
        prevHash = entry.hash;
        previousId = entry.id;
        afterId = entry.id;
      }
    }
    const lastId = previousId;
    let truncated: AuditVerification['truncated'] = null;
    for (const anchor of anchors) {
      if (seen.has(anchor.id)) continue;
      if (lastId === null || BigInt(anchor.id) > BigInt(lastId)) {
        if (!truncated || BigInt(anchor.id) > BigInt(truncated.anchoredEntryId))
          truncated = { lastEntryId: lastId, anchoredEntryId: anchor.id, anchoredAt: anchor.at };
      } else if (!anchorMismatches.some((m) => m.id === anchor.id)) {
        anchorMismatches.push({ id: anchor.id, anchoredAt: anchor.at, problem: 'missing' });
      }
    }
    const problems = [
      ...brokenRanges.map((r) =>
        r.fromId === r.toId
          ? `entry ${r.fromId} does not match its hash or link (rewritten, or entries before it removed)`
          : `entries ${r.fromId}..${r.toId} do not match their hashes or links (rewritten, or entries before them removed)`,
      ),
      ...anchorMismatches.map((m) =>
        m.problem === 'rewritten'
          ? `entry ${m.id} differs from its anchor of ${m.anchoredAt} (rewritten)`
          : `entry ${m.id}, anchored at ${m.anchoredAt}, is missing (removed)`,
      ),
      ...(truncated
        ? [
            `the chain ends at entry ${truncated.lastEntryId ?? 'none'} but entry ${truncated.anchoredEntryId} was anchored at ${truncated.anchoredAt}: the newest entries were removed`,
          ]
        : []),
      ...anchorProblems,
    ];
    const latest = anchors.reduce<Anchor | null>((best, a) => (!best || BigInt(a.id) > BigInt(best.id) ? a : best), null);
    return {
      valid: brokenRanges.length === 0 && anchorMismatches.length === 0 && truncated === null,
      checked,
      firstBrokenId: brokenRanges[0]?.fromId ?? null,
      brokenRanges,
      anchorMismatches,
      truncated,
      anchors: { file: this.anchorFile.path, count: anchors.length, latestEntryId: latest?.id ?? null, latestAt: latest?.at ?? null },
      keyId: this.masterKey.id,
      problems,
    };
  }
}
