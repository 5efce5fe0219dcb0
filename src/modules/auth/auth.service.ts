import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import * as jwt from 'jsonwebtoken';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/errors';
import { Identity } from '../../common/request-context';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { OPS_REDIS } from '../../infra/redis/redis.module';
import { dummyPasswordHash, verifyPassword } from './password';
import { SigningKeysService } from './signing-keys.service';
import { UsersService, UserView, toUserView } from './users.service';

export interface LoginResult {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  user: UserView;
}

export interface AccessTokenClaims {
  sub: string;
  username: string;
  role: string;
}

/**
 * Sign-in: password check, lockout after repeated failures (counted in Redis so every
 * replica sees them), and short-lived HS256 access tokens.
 */
@Injectable()
export class AuthService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(OPS_REDIS) private readonly redis: Redis,
    private readonly users: UsersService,
    private readonly keys: SigningKeysService,
    private readonly clock: Clock,
  ) {}

  private failKey(username: string) {
    return `login:fail:${username}`;
  }

  private lockKey(username: string) {
    return `login:lock:${username}`;
  }

  private async redisCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch {
      throw new DomainError(ErrorCode.DependencyUnavailable, 'sign-in is unavailable: the control plane cannot reach its Redis; try again shortly');
    }
  }

  async lockedFor(username: string): Promise<number> {
    const ttl = await this.redisCall(() => this.redis.pttl(this.lockKey(username)));
    return ttl > 0 ? Math.ceil(ttl / 1000) : 0;
  }

  async login(usernameInput: string, password: string): Promise<LoginResult> {
    const username = usernameInput.toLowerCase();
    const locked = await this.lockedFor(username);
    if (locked > 0) {
      throw new DomainError(ErrorCode.AccountLocked, `account ${username} is locked after repeated failed sign-ins; try again in ${locked} s or ask an admin to unlock it`, { username }, locked);
    }
    // The attempt is counted before the password is checked, so that concurrent attempts
    // cannot all slip in before the fifth failure is recorded; a success clears the count.
    const attempt = await this.reserveAttempt(username);
    if (attempt > this.config.OPS_LOGIN_MAX_FAILURES) {
      const wait = await this.lockedFor(username);
      throw new DomainError(ErrorCode.AccountLocked, `account ${username} is locked after repeated failed sign-ins; try again in ${wait} s or ask an admin to unlock it`, { username }, wait || this.config.OPS_LOGIN_LOCK_SECONDS);
    }
    const user = await this.users.findByUsername(username);
    const ok = user ? await verifyPassword(user.passwordHash, password) : (await verifyPassword(await dummyPasswordHash(), password), false);
    if (!user || !ok || user.disabled) {
      if (ok) await this.redisCall(() => this.redis.del(this.failKey(username)));
      else if (attempt >= this.config.OPS_LOGIN_MAX_FAILURES) await this.lock(username);
      throw new DomainError(ErrorCode.InvalidCredentials, user && ok ? `account ${username} is disabled` : 'wrong username or password', { username });
    }
    await this.redisCall(() => this.redis.del(this.failKey(username)));
    await this.users.touchLogin(user.id, this.clock.now());
    return { ...this.issue(user.id, user.username, user.role), user: toUserView(user) };
  }

  /** Counts one more attempt (atomically, across replicas); returns its number in the window. */
  private async reserveAttempt(username: string): Promise<number> {
    const windowMs = this.config.OPS_LOGIN_LOCK_SECONDS * 1000;
    const [[, count]] = (await this.redisCall(() => this.redis.multi().incr(this.failKey(username)).pexpire(this.failKey(username), windowMs).exec())) as [
      [unknown, number],
    ];
    return count;
  }

  private async lock(username: string): Promise<void> {
    const windowMs = this.config.OPS_LOGIN_LOCK_SECONDS * 1000;
    await this.redisCall(() => this.redis.multi().set(this.lockKey(username), '1', 'PX', windowMs).del(this.failKey(username)).exec());
  }

  async unlock(username: string): Promise<void> {
    await this.redisCall(() => this.redis.del(this.lockKey(username.toLowerCase()), this.failKey(username.toLowerCase())));
  }

  issue(userId: string, username: string, role: string): Omit<LoginResult, 'user'> {
    const { kid, secret } = this.keys.current();
    const claims: AccessTokenClaims = { sub: userId, username, role };
    const accessToken = jwt.sign(claims, secret, {
      algorithm: 'HS256',
      keyid: kid,
      expiresIn: this.config.OPS_JWT_TTL_SECONDS,
      issuer: this.config.OPS_JWT_ISSUER,
      audience: this.config.OPS_JWT_AUDIENCE,
      jwtid: randomUUID(),
    });
    return { accessToken, tokenType: 'Bearer', expiresIn: this.config.OPS_JWT_TTL_SECONDS };
  }

  /** Called by the JWT strategy once the signature and claims are verified. */
  async identityFromClaims(claims: AccessTokenClaims): Promise<Identity | { refused: string }> {
    const user = await this.users.findActiveCached(claims.sub);
    if (!user) return { refused: 'the token\'s user no longer exists' };
    if (user.disabled) return { refused: 'the token\'s user is disabled' };
    return { kind: 'user', id: user.id, username: user.username, role: user.role };
  }
}
