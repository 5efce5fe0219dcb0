import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/errors';
import { decodeCursor, encodeCursor, Page, pageSize } from '../../common/pagination';
import { Role } from '../../guards/rights';
import { UserEntity } from './entities/user.entity';
import { hashPassword, PASSWORD_MIN_LENGTH } from './password';

export interface UserView {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  lastLoginAt: Date | null;
}

export function toUserView(user: UserEntity): UserView {
  return { id: user.id, username: user.username, role: user.role, disabled: user.disabled, createdAt: user.createdAt, lastLoginAt: user.lastLoginAt };
}

const CACHE_MS = 5000;

@Injectable()
export class UsersService {
  /** Short-lived cache for token verification; cleared on every change made here. */
  private readonly cache = new Map<string, { user: UserEntity | null; until: number }>();

  constructor(@InjectRepository(UserEntity) private readonly repo: Repository<UserEntity>) {}

  async create(input: { username: string; password: string; role: Role }): Promise<UserEntity> {
    if (input.password.length < PASSWORD_MIN_LENGTH) {
      throw DomainError.validation([{ field: 'password', problem: `must be at least ${PASSWORD_MIN_LENGTH} characters` }]);
    }
    const username = input.username.toLowerCase();
    if (await this.repo.exists({ where: { username } })) {
      throw new DomainError(ErrorCode.Conflict, `user ${username} already exists`, { username });
    }
    const user = this.repo.create({ username, role: input.role, passwordHash: await hashPassword(input.password), disabled: false });
    try {
      return await this.repo.save(user);
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new DomainError(ErrorCode.Conflict, `user ${username} already exists`, { username });
      throw error;
    }
  }

  count(): Promise<number> {
    return this.repo.count();
  }

  findByUsername(username: string): Promise<UserEntity | null> {
    return this.repo.findOne({ where: { username: username.toLowerCase() } });
  }

  async get(id: string): Promise<UserEntity> {
    const user = await this.repo.findOne({ where: { id } });
    if (!user) throw DomainError.notFound('user', id);
    return user;
  }

  /** The user behind a verified access token, cached for a few seconds. */
  async findActiveCached(id: string): Promise<UserEntity | null> {
    const hit = this.cache.get(id);
    const now = Date.now();
    if (hit && hit.until > now) return hit.user;
    const user = await this.repo.findOne({ where: { id } });
    if (this.cache.size > 10000) this.cache.clear();
    this.cache.set(id, { user, until: now + CACHE_MS });
    return user;
  }

  async list(limit?: number, cursor?: string): Promise<Page<UserView>> {
    const size = pageSize(limit);
    const after = decodeCursor(cursor, ['text']);
    const qb = this.repo.createQueryBuilder('u').orderBy('u.username', 'ASC').take(size + 1);
    if (after) qb.where('u.username > :after', { after: String(after[0]) });
    const rows = await qb.getMany();
    const items = rows.slice(0, size);
    return { items: items.map(toUserView), nextCursor: rows.length > size ? encodeCursor([items[items.length - 1].username]) : null };
  }

  async update(id: string, change: { role?: Role; disabled?: boolean; password?: string }): Promise<UserEntity> {
    const user = await this.get(id);
    if (change.password !== undefined) {
      if (change.password.length < PASSWORD_MIN_LENGTH) {
        throw DomainError.validation([{ field: 'password', problem: `must be at least ${PASSWORD_MIN_LENGTH} characters` }]);
      }
      user.passwordHash = await hashPassword(change.password);
    }
    if (change.role !== undefined) user.role = change.role;
    if (change.disabled !== undefined) user.disabled = change.disabled;
    const saved = await this.repo.save(user);
    this.cache.delete(id);
    return saved;
  }

  async touchLogin(id: string, at: Date): Promise<void> {
    await this.repo.update({ id }, { lastLoginAt: at });
  }
}
