import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import * as jwt from 'jsonwebtoken';
import { AddressSet, addressBucket } from '../../common/addresses';
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
  /** The user's session version when the token was issued. */
  sv: number;
  username: string;
  role: string;
  iat?: number;
  exp?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Seconds of lifetime a token may exceed the configured one by (clock skew). */
const LIFETIME_TOLERANCE = 5;

/** Deletes the first counter and decrements the others where they still exist. */
const FORGIVE = `redis.call('del', KEYS[1])
for i = 2, #KEYS do
  if redis.call('exists', KEYS[i]) == 1 then redis.call('decr', KEYS[i]) end
end
return 1`;

type LockScope = 'account-address' | 'address' | 'account';

/**
 * Sign-in: password check, lockouts counted in Redis (so every replica sees them), and
 * short-lived HS256 access tokens bound to the user's session version.
 *
 * Lockout without a denial-of-service lever: failures are counted per account and client
 * address, per address, and per account. One address that keeps failing locks itself out
 * of that account (OPS_LOGIN_MAX_FAILURES), then out of signing in at all
 * (OPS_LOGIN_ADDRESS_MAX_FAILURES); the account itself is locked only after failures from
 * many addresses (OPS_LOGIN_ACCOUNT_MAX_FAILURES), and even then it can sign in from a
 * trusted address (OPS_LOGIN_TRUSTED_ADDRESSES). IPv6 addresses count by /64.
 */
@Injectable()
export class AuthService {
  private readonly trusted: AddressSet;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(OPS_REDIS) private readonly redis: Redis,
    private readonly users: UsersService,
    private readonly keys: SigningKeysService,
    private readonly clock: Clock,
  ) {
    this.trusted = new AddressSet(config.OPS_LOGIN_TRUSTED_ADDRESSES);
  }

  private keysFor(username: string, bucket: string) {
    return {
      accountAddressFail: `login:fail:ua:${username}:${bucket}`,
      accountAddressLock: `login:lock:ua:${username}:${bucket}`,
      addressFail: `login:fail:a:${bucket}`,
      addressLock: `login:lock:a:${bucket}`,
      accountFail: `login:fail:u:${username}`,
      accountLock: `login:lock:u:${username}`,
      /** The addresses that have per-account counters or locks for this account (for unlock). */
      accountIndex: `login:idx:${username}`,
    };
  }

  private async redisCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch {
      throw new DomainError(
        ErrorCode.DependencyUnavailable,
        'sign-in is unavailable: the control plane cannot reach its Redis; try again shortly',
        { dependency: 'redis' },
        5,
      );
    }
  }

  private lockedError(scope: LockScope, username: string, seconds: number): DomainError {
    const wait = Math.max(1, seconds);
    const message =
      scope === 'address'
        ? `too many failed sign-ins from your address; try again in ${wait} s`
        : scope === 'account-address'
          ? `account ${username} is locked for your address after repeated failed sign-ins from it; try again in ${wait} s, sign in from another address, or ask an admin to unlock it`
          : `account ${username} is locked after repeated failed sign-ins from many addresses; try again in ${wait} s, sign in from a trusted address (OPS_LOGIN_TRUSTED_ADDRESSES), or ask an admin to unlock it (npm run user -- unlock --username ${username})`;
    return new DomainError(ErrorCode.AccountLocked, message, { username, scope }, wait);
  }

  /** Seconds left on a lock key (0 when not locked). */
  private async ttl(key: string): Promise<number> {
    const ms = await this.redisCall(() => this.redis.pttl(key));
    return ms > 0 ? Math.ceil(ms / 1000) : 0;
  }

  /** Seconds until the account is no longer locked for everybody (0 when it is not). */
  async lockedFor(username: string): Promise<number> {
    return this.ttl(this.keysFor(username.toLowerCase(), '').accountLock);
  }

  async login(usernameInput: string, password: string, clientAddress?: string): Promise<LoginResult> {
    const username = usernameInput.toLowerCase();
    const bucket = addressBucket(clientAddress);
    const trusted = this.trusted.has(clientAddress);
    const k = this.keysFor(username, bucket);
    const windowMs = this.config.OPS_LOGIN_LOCK_SECONDS * 1000;

    // Locks first: a locked caller's attempt is not counted and its password not checked.
    const [uaLock, aLock, uLock] = (await this.redisCall(() =>
      this.redis.multi().pttl(k.accountAddressLock).pttl(k.addressLock).pttl(k.accountLock).exec(),
    )) as [unknown, number][];
    const seconds = (entry: [unknown, number]) => (entry[1] > 0 ? Math.ceil(entry[1] / 1000) : 0);
    if (!trusted && seconds(aLock) > 0) throw this.lockedError('address', username, seconds(aLock));
    if (seconds(uaLock) > 0) throw this.lockedError('account-address', username, seconds(uaLock));
    if (!trusted && seconds(uLock) > 0) throw this.lockedError('account', username, seconds(uLock));

    // Every attempt is counted before the password is checked, so that concurrent attempts
    // cannot all slip in before a limit is reached; a success takes its count back.
    const counted = (await this.redisCall(() =>
      this.redis
        .multi()
        .incr(k.accountAddressFail)
        .pexpire(k.accountAddressFail, windowMs)
        .incr(k.addressFail)
        .pexpire(k.addressFail, windowMs)
        .incr(k.accountFail)
        .pexpire(k.accountFail, windowMs)
        .sadd(k.accountIndex, bucket)
        .pexpire(k.accountIndex, windowMs * 2)
        .exec(),
    )) as [unknown, number][];
    const [ua, a, u] = [counted[0][1], counted[2][1], counted[4][1]];
    const over: { scope: LockScope; key: string; count: number; max: number }[] = [
      { scope: 'account-address', key: k.accountAddressLock, count: ua, max: this.config.OPS_LOGIN_MAX_FAILURES },
      ...(trusted
        ? []
        : [
            { scope: 'address' as const, key: k.addressLock, count: a, max: this.config.OPS_LOGIN_ADDRESS_MAX_FAILURES },
            { scope: 'account' as const, key: k.accountLock, count: u, max: this.config.OPS_LOGIN_ACCOUNT_MAX_FAILURES },
          ]),
    ];
    const exceeded = over.find((o) => o.count > o.max);
    if (exceeded) {
      await this.lock(exceeded.key);
      throw this.lockedError(exceeded.scope, username, (await this.ttl(exceeded.key)) || this.config.OPS_LOGIN_LOCK_SECONDS);
    }

    const user = await this.users.findByUsername(username);
    const ok = user
      ? await verifyPassword(user.passwordHash, password)
      : (await verifyPassword(await dummyPasswordHash(), password), false);
    if (!user || !ok || user.disabled) {
      if (ok) await this.forgive(k);
      else for (const o of over) if (o.count >= o.max) await this.lock(o.key);
      throw new DomainError(ErrorCode.InvalidCredentials, user && ok ? `account ${username} is disabled` : 'wrong username or password', {
        username,
      });
    }
    await this.forgive(k);
    await this.users.touchLogin(user.id, this.clock.now());
    return { ...this.issue(user.id, user.username, user.role, user.sessionVersion), user: toUserView(user) };
  }

  /** A successful attempt was counted like a failure: take it back. */
  private async forgive(k: ReturnType<AuthService['keysFor']>): Promise<void> {
    // A counter that expired meanwhile is not brought back as -1 (without an expiry).
    await this.redisCall(() => this.redis.eval(FORGIVE, 3, k.accountAddressFail, k.addressFail, k.accountFail));
  }

  private async lock(key: string): Promise<void> {
    await this.redisCall(() => this.redis.set(key, '1', 'PX', this.config.OPS_LOGIN_LOCK_SECONDS * 1000));
  }

  /** Lifts every lock and failure count of an account (for everybody and per address). */
  async unlock(usernameInput: string): Promise<void> {
    const username = usernameInput.toLowerCase();
    const base = this.keysFor(username, '');
    const buckets = await this.redisCall(() => this.redis.smembers(base.accountIndex));
    const keys = [base.accountLock, base.accountFail, base.accountIndex];
    for (const bucket of buckets) {
      const k = this.keysFor(username, bucket);
      keys.push(k.accountAddressLock, k.accountAddressFail);
    }
    await this.redisCall(() => this.redis.del(...keys));
  }

  /** Lifts the block of a client address (its /64 for IPv6). */
  async unblockAddress(address: string): Promise<void> {
    const k = this.keysFor('', addressBucket(address));
    await this.redisCall(() => this.redis.del(k.addressLock, k.addressFail));
  }

  issue(userId: string, username: string, role: string, sessionVersion: number): Omit<LoginResult, 'user'> {
    const { kid, secret } = this.keys.current();
    const claims: AccessTokenClaims = { sub: userId, sv: sessionVersion, username, role };
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

  /**
   * Called by the JWT strategy once the signature, issuer, audience and times are verified:
   * the claims must still name a user (a UUID subject), carry an expiry no further than the
   * configured lifetime, and the user's current session version; otherwise the token is refused.
   */
  async identityFromClaims(claims: Partial<AccessTokenClaims> | null | undefined): Promise<Identity | { refused: string }> {
    if (!claims || typeof claims !== 'object') return { refused: 'the token has no claims' };
    if (typeof claims.sub !== 'string' || !UUID.test(claims.sub)) return { refused: 'the token has no usable subject' };
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) return { refused: 'the token has no expiry (exp)' };
    if (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat)) return { refused: 'the token has no issue time (iat)' };
    if (claims.exp - claims.iat > this.config.OPS_JWT_TTL_SECONDS + LIFETIME_TOLERANCE)
      return { refused: 'the token lives longer than this control plane issues tokens for' };
    if (typeof claims.sv !== 'number' || !Number.isSafeInteger(claims.sv))
      return { refused: 'the token has no session version (sign in again)' };
    const user = await this.users.findActiveCached(claims.sub);
    if (!user) return { refused: "the token's user no longer exists" };
    if (user.disabled) return { refused: "the token's user is disabled" };
    if (user.sessionVersion !== claims.sv) return { refused: 'the session ended (password, role or status changed); sign in again' };
    return { kind: 'user', id: user.id, username: user.username, role: user.role, userId: user.id };
  }
}
