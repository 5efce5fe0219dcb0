import { createHash, createHmac } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level: the canonical form that is hashed. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export interface HashedFields {
  id: string;
  at: Date;
  actor: string;
  actorRole: string | null;
  action: string;
  target: string | null;
  parameters: Record<string, unknown>;
  outcome: string;
  errorCode: string | null;
  requestId: string | null;
  clientAddress: string | null;
}

/** The fields every chain version hashes, in their stored form. */
function hashedObject(fields: HashedFields): Record<string, unknown> {
  return {
    id: String(fields.id),
    at: new Date(fields.at).toISOString(),
    actor: fields.actor,
    actorRole: fields.actorRole ?? null,
    action: fields.action,
    target: fields.target ?? null,
    parameters: fields.parameters ?? {},
    outcome: fields.outcome,
    errorCode: fields.errorCode ?? null,
    requestId: fields.requestId ?? null,
    clientAddress: fields.clientAddress ?? null,
  };
}

/** Version 1: SHA-256 over the previous entry's hash and this entry's canonical form. */
export function entryHash(prevHash: string, fields: HashedFields): string {
  return createHash('sha256')
    .update(prevHash)
    .update('\n')
    .update(canonicalJson(hashedObject(fields)))
    .digest('hex');
}

/** What a version-2 entry hashes besides the version-1 fields. */
export interface KeyedFields extends HashedFields {
  actorVia: string | null;
  chainVersion: number;
}

/**
 * Version 2: HMAC-SHA256 with a key kept outside the database (derived from the master key)
 * over the previous entry's hash and this entry's canonical form. Whoever can write the
 * database but does not hold the key cannot recompute the chain after changing an entry.
 */
export function entryMac(key: Buffer, prevHash: string, fields: KeyedFields): string {
  const canonical = canonicalJson({ ...hashedObject(fields), v: 2, actorVia: fields.actorVia ?? null });
  return createHmac('sha256', key).update(prevHash).update('\n').update(canonical).digest('hex');
}
