import { createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Batcher } from '../../common/batcher';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/errors';
import { decodeCursor, encodeCursor, Page, pageSize } from '../../common/pagination';
import { Identity } from '../../common/request-context';
import { Role, roleCovers, SERVICE_SCOPES } from '../../common/rights';
import { ApiTokenEntity } from './entities/api-token.entity';

/** API tokens look like `opsk_<43 base64url characters>`; the prefix tells them from JWTs. */
export const API_TOKEN_PREFIX = 'opsk_';
const TOKEN_PATTERN = /^opsk_[A-Za-z0-9_-]{43}$/;
const LAST_USED_RESOLUTION_MS = 60_000;
/** At most this many presented tokens are looked up by one statement. */
const MAX_LOOKUP_BATCH = 100;
/** First key of the advisory lock that serialises rotations of one service identity (the second is its name's hash). */
const ROTATION_LOCK = 7_340_003;
/** A token's name, as the REST API accepts it. */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,99}$/;

export interface ApiTokenView {
  id: string;
  name: string;
  prefix: string;
  kind: 'user' | 'service';
  role: Role | null;
  scopes: string[];
  /** The person the token belongs to and counts as (null for a service identity). */
  owner: string | null;
  ownerId: string | null;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  status: 'active' | 'expired' | 'revoked';
}

export interface CreateTokenInput {
  name: string;
  kind: 'user' | 'service';
  role?: Role;
  scopes?: string[];
  expiresInDays: number;
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new token value; shown once, stored only as its hash. */
export function newApiToken(): string {
  return `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function looksLikeApiToken(value: string): boolean {
  return value.startsWith(API_TOKEN_PREFIX);
}

/** What authenticate reads of a presented token and its owner. */
interface PresentedToken {
  id: string;
  name: string;
  kind: 'user' | 'service';
  role: Role | null;
  scopes: string[];
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  ownerId: string | null;
  ownerUsername: string | null;
  ownerRole: Role | null;
  ownerDisabled: boolean | null;
}

/**
 * API tokens. A person's token belongs to the person who made it and counts as them (the
 * two-person rule, the audit trail); it never carries more rights than its owner, at
 * creation and at every use (an owner disabled or demoted ends it). A service identity is
 * a token of its own kind with explicit scopes, made by an admin, that can never approve.
 */
@Injectable()
export class TokensService {
  /**
   * Presented tokens are looked up together: the hashes presented while a lookup is under way
   * go into the next one (one plain statement for all of them). Each request's lookup still
   * starts after the request arrived, so a revocation committed before it is always seen.
   */
  private readonly lookups = new Batcher<string, PresentedToken | undefined>((hashes) => this.lookUp(hashes), MAX_LOOKUP_BATCH);

  constructor(
    @InjectRepository(ApiTokenEntity) private readonly repo: Repository<ApiTokenEntity>,
    private readonly clock: Clock,
  ) {}

  /** One plain statement for the hashes presented together (findOne with a relation makes two per token). */
  private async lookUp(hashes: string[]): Promise<(PresentedToken | undefined)[]> {
    const rows: (PresentedToken & { hash: string })[] = await this.repo.manager.query(
      `SELECT t.token_hash AS hash, t.id, t.name, t.kind, t.role, t.scopes, t.expires_at AS "expiresAt",
              t.last_used_at AS "lastUsedAt", t.revoked_at AS "revokedAt", u.id AS "ownerId",
              u.username AS "ownerUsername", u.role AS "ownerRole", u.disabled AS "ownerDisabled"
       FROM api_tokens t LEFT JOIN users u ON u.id = t.owner_id WHERE t.token_hash = ANY($1::text[])`,
      [[...new Set(hashes)]],
    );
    const byHash = new Map(rows.map((r) => [r.hash, r]));
    return hashes.map((h) => byHash.get(h));
  }

  view(token: ApiTokenEntity): ApiTokenView {
    const now = this.clock.now();
    const status = token.revokedAt ? 'revoked' : token.expiresAt <= now ? 'expired' : 'active';
    return {
      id: token.id,
      name: token.name,
      prefix: token.prefix,
      kind: token.kind,
      role: token.role,
      scopes: token.scopes ?? [],
      owner: token.owner?.username ?? null,
      ownerId: token.ownerId,
      createdBy: token.createdBy,
      createdAt: token.createdAt,
      expiresAt: token.expiresAt,
      lastUsedAt: token.lastUsedAt,
      revokedAt: token.revokedAt,
      status,
    };
  }

  /**
   * Creates a token; the only time its value is ever shown is this return value. A person's
   * token belongs to the signed-in creator and may not exceed the role they act with; only a
   * password sign-in makes tokens (a leaked token cannot mint itself a longer-lived heir).
   */
  async create(input: CreateTokenInput, creator: Identity, mayManage: boolean): Promise<{ token: string; view: ApiTokenView }> {
    if (creator.kind !== 'user' || !creator.userId || creator.role === 'service') {
      throw new DomainError(
        ErrorCode.Forbidden,
        'API tokens are created by a person signed in with a password, not through another token or a service identity',
        {
          yourKind: creator.kind,
        },
      );
    }
    let role: Role | null = null;
    let scopes: string[] = [];
    let ownerId: string | null = creator.userId;
    if (input.kind === 'service') {
      if (!mayManage) {
        throw new DomainError(ErrorCode.Forbidden, 'only an admin (tokens.manage) creates service identities', {
          requiredRight: 'tokens.manage',
          yourRole: creator.role,
        });
      }
      if (input.role !== undefined)
        throw DomainError.validation([{ field: 'role', problem: 'a service identity has no role: give its scopes instead' }]);
      scopes = [...new Set(input.scopes ?? [])];
      if (scopes.length === 0)
        throw DomainError.validation([{ field: 'scopes', problem: `must name at least one of ${SERVICE_SCOPES.join(', ')}` }]);
      ownerId = null;
    } else {
      if (input.scopes !== undefined)
        throw DomainError.validation([
          { field: 'scopes', problem: "only a service identity (kind: service) has scopes; a person's token has a role" },
        ]);
      if (input.role === undefined) throw DomainError.validation([{ field: 'role', problem: "is required for a person's token" }]);
      role = input.role;
      if (!roleCovers(creator.role, role)) {
        throw new DomainError(
          ErrorCode.Forbidden,
          `a token never carries more rights than its owner: ${creator.role} cannot make a ${role} token`,
          { yourRole: creator.role, requestedRole: role },
        );
      }
    }
    const token = newApiToken();
    const entity = this.repo.create({
      name: input.name,
      kind: input.kind,
      role,
      scopes,
      ownerId,
      tokenHash: hashApiToken(token),
      prefix: token.slice(0, 12),
      createdBy: creator.username,
      expiresAt: new Date(this.clock.now().getTime() + input.expiresInDays * 86_400_000),
    });
    const saved = await this.repo.save(entity);
    return { token, view: this.view((await this.find(saved.id))!) };
  }

  /**
   * A service identity's new token, for a deployment script where nobody signs in (the
   * command line: `npm run user -- service-token`): revokes every active token of the service
   * identity of that name and creates its successor in one transaction, so exactly one token
   * of the identity works afterwards (rotations of one name wait for each other). `token` is
   * the value to store (its hash); `beforeCommit` runs while the rotation holds its lock (the
   * command line puts the token in its file there), so that of two rotations at once the file
   * ends with the token that stays valid; when it throws, nothing changes.
   */
  async rotateServiceToken(
    input: { name: string; scopes: string[]; expiresInDays: number },
    by: string,
    token: string = newApiToken(),
    beforeCommit: () => void | Promise<void> = () => undefined,
  ): Promise<{ view: ApiTokenView; revoked: string[] }> {
    const problems: { field: string; problem: string }[] = [];
    if (!TOKEN_NAME_PATTERN.test(input.name))
      problems.push({ field: 'name', problem: 'must be 1-100 characters: letters, digits, space, _ . : -' });
    const scopes = [...new Set(input.scopes)];
    const unknown = scopes.filter((s) => !(SERVICE_SCOPES as readonly string[]).includes(s));
    if (scopes.length === 0 || unknown.length)
      problems.push({
        field: 'scopes',
        problem: `must name only ${SERVICE_SCOPES.join(', ')}${unknown.length ? ` (not ${unknown.join(', ')})` : ''}`,
      });
    if (!Number.isInteger(input.expiresInDays) || input.expiresInDays < 1 || input.expiresInDays > 365)
      problems.push({ field: 'expiresInDays', problem: 'must be a whole number of days from 1 to 365' });
    if (!TOKEN_PATTERN.test(token)) problems.push({ field: 'token', problem: 'is not an API token' });
    if (problems.length) throw DomainError.validation(problems);
    const now = this.clock.now();
    const { id, revoked } = await this.repo.manager.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ROTATION_LOCK, input.name]);
      const active = await manager
        .createQueryBuilder()
        .update(ApiTokenEntity)
        .set({ revokedAt: now, revokedBy: by })
        .where("kind = 'service' AND name = :name AND revoked_at IS NULL AND expires_at > :now", { name: input.name, now })
        .returning('id')
        .execute();
      const saved = await manager.save(
        manager.create(ApiTokenEntity, {
          name: input.name,
          kind: 'service',
          role: null,
          scopes,
          ownerId: null,
          tokenHash: hashApiToken(token),
          prefix: token.slice(0, 12),
          createdBy: by,
          expiresAt: new Date(now.getTime() + input.expiresInDays * 86_400_000),
        }),
      );
      await beforeCommit();
      return { id: saved.id, revoked: (active.raw as { id: string }[]).map((r) => r.id) };
    });
    return { view: this.view((await this.find(id))!), revoked };
  }

  private find(id: string): Promise<ApiTokenEntity | null> {
    return this.repo.findOne({ where: { id }, relations: { owner: true } });
  }

  /** Newest first; `ownerId` limits the list to one person's tokens. */
  async list(filter: { limit?: number; cursor?: string; ownerId?: string }): Promise<Page<ApiTokenView>> {
    const size = pageSize(filter.limit);
    const after = decodeCursor(filter.cursor, ['date', 'uuid']);
    // Ordered and paged at millisecond precision (the cursor's), so no row is skipped.
    const qb = this.repo
      .createQueryBuilder('t')
      .leftJoinAndSelect('t.owner', 'owner')
      .orderBy("date_trunc('milliseconds', t.created_at)", 'DESC')
      .addOrderBy('t.id', 'DESC')
      .limit(size + 1);
    if (filter.ownerId) qb.andWhere('t.owner_id = :ownerId', { ownerId: filter.ownerId });
    if (after)
      qb.andWhere("(date_trunc('milliseconds', t.created_at), t.id) < (:at, :id)", {
        at: new Date(String(after[0])),
        id: String(after[1]),
      });
    const rows = await qb.getMany();
    const items = rows.slice(0, size);
    const last = items[items.length - 1];
    return {
      items: items.map((t) => this.view(t)),
      nextCursor: rows.length > size ? encodeCursor([last.createdAt.toISOString(), last.id]) : null,
    };
  }

  /** Revokes a token: one's own, or anyone's with tokens.manage (others' tokens are a 404 otherwise). */
  async revoke(id: string, by: Identity, mayManage: boolean): Promise<ApiTokenView> {
    const token = await this.find(id);
    if (!token || (!mayManage && (by.userId === null || token.ownerId !== by.userId))) throw DomainError.notFound('API token', id);
    if (token.revokedAt)
      throw new DomainError(ErrorCode.Conflict, `API token ${id} was already revoked at ${token.revokedAt.toISOString()}`, { id });
    token.revokedAt = this.clock.now();
    token.revokedBy = by.username;
    await this.repo.save(token);
    return this.view(token);
  }

  /** The principal behind a presented API token, or the reason it is refused. */
  async authenticate(raw: string): Promise<Identity | { refused: string }> {
    if (!TOKEN_PATTERN.test(raw)) return { refused: 'malformed API token' };
    const row = await this.lookups.submit(hashApiToken(raw));
    const token = row && {
      ...row,
      owner: row.ownerId ? { id: row.ownerId, username: row.ownerUsername!, role: row.ownerRole!, disabled: row.ownerDisabled! } : null,
    };
    if (!token) return { refused: 'unknown API token' };
    const now = this.clock.now();
    if (token.revokedAt) return { refused: 'API token revoked' };
    if (token.expiresAt <= now) return { refused: 'API token expired' };
    let identity: Identity;
    if (token.kind === 'service') {
      identity = {
        kind: 'service',
        id: token.id,
        username: `service:${token.name}`,
        role: 'service',
        userId: null,
        scopes: token.scopes,
        token: { id: token.id, name: token.name },
      };
    } else {
      const owner = token.owner;
      if (!owner || !token.role) return { refused: 'the API token has no owner' };
      if (owner.disabled) return { refused: `the API token's owner ${owner.username} is disabled` };
      if (!roleCovers(owner.role, token.role))
        return { refused: `the API token's role ${token.role} exceeds its owner's current role ${owner.role}` };
      identity = {
        kind: 'token',
        id: token.id,
        username: owner.username,
        role: token.role,
        userId: owner.id,
        token: { id: token.id, name: token.name },
      };
    }
    if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.repo.update({ id: token.id }, { lastUsedAt: now });
    }
    return identity;
  }
}
