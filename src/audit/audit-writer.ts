import { DataSource, EntityManager } from 'typeorm';
import { Batcher } from '../common/batcher';
import { AuditEntryEntity } from './audit-entry.entity';
import { PendingEntry } from './audit-spool';
import { entryMac, GENESIS_HASH } from './canonical';

/** The advisory lock that serialises appends to the chain, across replicas. */
export const CHAIN_LOCK = 7_340_002;
/** At most this many entries go into one append (one transaction, one multi-row INSERT). */
const MAX_BATCH = 200;

/** One statement for any number of entries (no query builder: it is on the path of every mutation). */
const INSERT_ENTRIES = `INSERT INTO audit_entries (id, at, actor, actor_role, actor_via, action, target, parameters, outcome,
    error_code, request_id, client_address, chain_version, prev_hash, hash)
  SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[],
    $7::varchar[], $8::jsonb[], $9::varchar[], $10::varchar[], $11::varchar[], $12::varchar[], $13::smallint[],
    $14::char(64)[], $15::char(64)[])`;

/**
 * Appends entries to the hash chain. The chain is one sequence across replicas, so appends
 * are serialised by an advisory lock; in this process, entries that arrive while an append
 * holds the lock wait in a queue and go into the next append together (one transaction: the
 * lock, the previous hash, their ids, one INSERT). So one connection per replica waits on
 * the lock instead of one per request, and each entry still resolves only once it is
 * committed. An append that fails is retried entry by entry, so that one entry the database
 * refuses does not take the others with it.
 */
export class AuditWriter {
  private readonly batcher = new Batcher<PendingEntry, AuditEntryEntity>(
    (pending) =>
      this.dataSource.transaction(async (manager) => {
        await manager.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
        return this.insert(manager, pending);
      }),
    MAX_BATCH,
  );

  constructor(
    private readonly dataSource: DataSource,
    private readonly chainKey: () => Buffer,
  ) {}

  /** Resolves with the entry once it is committed; rejects when the database did not take it. */
  append(pending: PendingEntry): Promise<AuditEntryEntity> {
    return this.batcher.submit(pending);
  }

  /** Appends entries in the caller's transaction (the chain's lock is held until it ends). */
  async appendWithin(manager: EntityManager, pending: PendingEntry[]): Promise<AuditEntryEntity[]> {
    await manager.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
    return this.insert(manager, pending);
  }

  /** Appends one entry unless one with the same time, action, actor, request and outcome is there (the spool's replay). */
  async appendOnce(pending: PendingEntry): Promise<AuditEntryEntity | null> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
      const found = await manager.query(
        'SELECT 1 FROM audit_entries WHERE at = $1 AND action = $2 AND actor = $3 AND request_id IS NOT DISTINCT FROM $4 AND outcome = $5 LIMIT 1',
        [new Date(pending.at), pending.action, pending.actor, pending.requestId, pending.outcome],
      );
      if (found.length) return null;
      return (await this.insert(manager, [pending]))[0];
    });
  }

  /** Under the chain lock: links the entries to the chain's head, in order, and inserts them. */
  private async insert(manager: EntityManager, pending: PendingEntry[]): Promise<AuditEntryEntity[]> {
    // The chain's head and the entries' ids in one statement (under the lock, taken by the statement before).
    const [head]: { hash: string | null; ids: string[] }[] = await manager.query(
      `SELECT (SELECT hash FROM audit_entries ORDER BY id DESC LIMIT 1) AS hash,
              ARRAY(SELECT nextval('audit_entries_id_seq')::text FROM generate_series(1, $1)) AS ids`,
      [pending.length],
    );
    const ordered = head.ids.map((id) => BigInt(id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let prevHash = head.hash ?? GENESIS_HASH;
    const entries = pending.map((p, i) => {
      const entry = new AuditEntryEntity();
      Object.assign(entry, p, { id: ordered[i].toString(), at: new Date(p.at), chainVersion: 2 });
      entry.prevHash = prevHash;
      entry.hash = entryMac(this.chainKey(), prevHash, entry);
      prevHash = entry.hash;
      return entry;
    });
    await manager.query(INSERT_ENTRIES, [
      entries.map((e) => e.id),
      entries.map((e) => e.at.toISOString()),
      entries.map((e) => e.actor),
      entries.map((e) => e.actorRole),
      entries.map((e) => e.actorVia),
      entries.map((e) => e.action),
      entries.map((e) => e.target),
      entries.map((e) => JSON.stringify(e.parameters)),
      entries.map((e) => e.outcome),
      entries.map((e) => e.errorCode),
      entries.map((e) => e.requestId),
      entries.map((e) => e.clientAddress),
      entries.map((e) => e.chainVersion),
      entries.map((e) => e.prevHash),
      entries.map((e) => e.hash),
    ]);
    return entries;
  }
}
