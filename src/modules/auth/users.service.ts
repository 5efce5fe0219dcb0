import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/errors';
import { decodeCursor, encodeCursor, Page, pageSize } from '../../common/pagination';
import { RESERVED_USERNAMES } from '../../common/request-context';
import { Role } from '../../common/rights';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { OPS_REDIS } from '../../infra/redis/redis.module';
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
  return {
    id: user.id,
    username: user.username,
    role: user.role,
    disabled: user.disabled,
    createdAt: user.createdAt,
    lastLoginAt: user.lastLoginAt,
  };
}

const CACHE_MS = 5000;

@Injectable()
export class UsersService implements OnModuleInit, OnApplicationShutdown {
  /**
   * Short-lived cache for token verification; an entry is dropped on every change made here,
   * on this replica at once and on the others through a Redis message (the few seconds of
   * the cache bound it when that message is lost).
   */
  private readonly cache = new Map<string, { user: UserEntity | null; until: number }>();
  private subscriber?: Redis;

  constructor(
    @InjectRepository(UserEntity) private readonly repo: Repository<UserEntity>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(OPS_REDIS) private readonly redis: Redis,
  ) {}

  /** Pub/sub channels are not key-prefixed: the prefix keeps deployments apart. */
  private get channel(): string {
    return `${this.config.OPS_REDIS_PREFIX}user-changed`;
  }

  onModuleInit(): void {
    this.subscriber = new Redis(this.config.OPS_REDIS_URL, {
      maxRetriesPerRequest: null,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (_channel: string, id: string) => this.cache.delete(id));
    this.subscriber.subscribe(this.channel).catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscriber?.disconnect();
  }

  private forget(id: string): void {
    this.cache.delete(id);
    this.redis.publish(this.channel, id).catch(() => undefined);
  }

  async create(input: { username: string; password: string; role: Role }): Promise<UserEntity> {
    if (input.password.length < PASSWORD_MIN_LENGTH) {
      throw DomainError.validation([{ field: 'password', problem: `must be at least ${PASSWORD_MIN_LENGTH} characters` }]);
    }
    const username = input.username.toLowerCase();
    if (RESERVED_USERNAMES.includes(username)) {
      throw DomainError.validation([
        { field: 'username', problem: `${username} is reserved for the control plane itself (${RESERVED_USERNAMES.join(', ')})` },
      ]);
    }
    if (await this.repo.exists({ where: { username } })) {
      throw new DomainError(ErrorCode.Conflict, `user ${username} already exists`, { username });
    }
    const user = this.repo.create({ username, role: input.role, passwordHash: await hashPassword(input.password), disabled: false });
    try {
      return await this.repo.save(user);
    } catch (error) {
      if ((error as { code?: string }).code === '23505')
        throw new DomainError(ErrorCode.Conflict, `user ${username} already exists`, { username });
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
    const qb = this.repo
      .createQueryBuilder('u')
      .orderBy('u.username', 'ASC')
      .take(size + 1);
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
    // A new password, a disable or a new role ends every session: access tokens carry the
    // session version and are refused once it moves on.
    const endsSessions =
      change.password !== undefined ||
      (change.role !== undefined && change.role !== user.role) ||
      (change.disabled === true && !user.disabled);
    if (change.role !== undefined) user.role = change.role;
    if (change.disabled !== undefined) user.disabled = change.disabled;
    if (endsSessions) user.sessionVersion += 1;
    const saved = await this.repo.save(user);
    this.forget(id);
    return saved;
  }

  async touchLogin(id: string, at: Date): Promise<void> {
    await this.repo.update({ id }, { lastLoginAt: at });
  }
}
