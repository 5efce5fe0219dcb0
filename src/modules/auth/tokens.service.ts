import { createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/errors';
import { decodeCursor, encodeCursor, Page, pageSize } from '../../common/pagination';
import { Identity } from '../../common/request-context';
import { Role } from '../../guards/rights';
import { ApiTokenEntity } from './entities/api-token.entity';

/** API tokens look like `opsk_<43 base64url characters>`; the prefix tells them from JWTs. */
export const API_TOKEN_PREFIX = 'opsk_';
const TOKEN_PATTERN = /^opsk_[A-Za-z0-9_-]{43}$/;
const LAST_USED_RESOLUTION_MS = 60_000;

export interface ApiTokenView {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  status: 'active' | 'expired' | 'revoked';
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function looksLikeApiToken(value: string): boolean {
  return value.startsWith(API_TOKEN_PREFIX);
}

@Injectable()
export class TokensService {
  constructor(
    @InjectRepository(ApiTokenEntity) private readonly repo: Repository<ApiTokenEntity>,
    private readonly clock: Clock,
  ) {}

  view(token: ApiTokenEntity): ApiTokenView {
    const now = this.clock.now();
    const status = token.revokedAt ? 'revoked' : token.expiresAt <= now ? 'expired' : 'active';
    return {
      id: token.id,
      name: token.name,
      prefix: token.prefix,
      role: token.role,
      createdBy: token.createdBy,
      createdAt: token.createdAt,
      expiresAt: token.expiresAt,
      lastUsedAt: token.lastUsedAt,
      revokedAt: token.revokedAt,
      status,
    };
  }

  /** Creates a token; the only time its value is ever shown is this return value. */
  async create(input: { name: string; role: Role; expiresInDays: number }, creator: Identity): Promise<{ token: string; view: ApiTokenView }> {
    const token = `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const entity = this.repo.create({
      name: input.name,
      role: input.role,
      tokenHash: hashApiToken(token),
      prefix: token.slice(0, 12),
      createdBy: creator.username,
      expiresAt: new Date(this.clock.now().getTime() + input.expiresInDays * 86_400_000),
    });
    const saved = await this.repo.save(entity);
    return { token, view: this.view(saved) };
  }

  async list(limit?: number, cursor?: string): Promise<Page<ApiTokenView>> {
    const size = pageSize(limit);
    const after = decodeCursor(cursor, ['date', 'uuid']);
    // Ordered and paged at millisecond precision (the cursor's), so no row is skipped.
    const qb = this.repo
      .createQueryBuilder('t')
      .orderBy("date_trunc('milliseconds', t.created_at)", 'DESC')
      .addOrderBy('t.id', 'DESC')
      .limit(size + 1);
    if (after) qb.where("(date_trunc('milliseconds', t.created_at), t.id) < (:at, :id)", { at: new Date(String(after[0])), id: String(after[1]) });
    const rows = await qb.getMany();
    const items = rows.slice(0, size);
    const last = items[items.length - 1];
    return { items: items.map((t) => this.view(t)), nextCursor: rows.length > size ? encodeCursor([last.createdAt.toISOString(), last.id]) : null };
  }

  async revoke(id: string, by: Identity): Promise<ApiTokenView> {
    const token = await this.repo.findOne({ where: { id } });
    if (!token) throw DomainError.notFound('API token', id);
    if (token.revokedAt) throw new DomainError(ErrorCode.Conflict, `API token ${id} was already revoked at ${token.revokedAt.toISOString()}`, { id });
    token.revokedAt = this.clock.now();
    token.revokedBy = by.username;
    return this.view(await this.repo.save(token));
  }

  /** The identity behind a presented API token, or a reason it is refused. */
  async authenticate(raw: string): Promise<Identity | { refused: string }> {
    if (!TOKEN_PATTERN.test(raw)) return { refused: 'malformed API token' };
    const token = await this.repo.findOne({ where: { tokenHash: hashApiToken(raw) } });
    if (!token) return { refused: 'unknown API token' };
    const now = this.clock.now();
    if (token.revokedAt) return { refused: 'API token revoked' };
    if (token.expiresAt <= now) return { refused: 'API token expired' };
    if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.repo.update({ id: token.id }, { lastUsedAt: now });
    }
    return { kind: 'token', id: token.id, username: `token:${token.name}`, role: token.role };
  }
}
