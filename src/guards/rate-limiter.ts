import { Inject, Injectable, Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { DomainError, ErrorCode } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { OPS_REDIS } from '../infra/redis/redis.module';

/**
 * A fixed one-minute window per client, counted in Redis so that every replica shares
 * it. When Redis is unreachable the limiter lets requests through (and says so in the
 * log): losing rate limiting is better than losing the control plane.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);
  private warnedAt = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(OPS_REDIS) private readonly redis: Redis,
  ) {}

  /** Counts waiting for the next round trip, by key; and whether one is under way. */
  private waiting = new Map<string, { resolve: (count: number) => void; reject: (error: unknown) => void }[]>();
  private counting = false;

  async consume(client: string): Promise<void> {
    const limit = this.config.OPS_RATE_LIMIT_PER_MINUTE;
    if (limit === 0) return;
    const now = Date.now();
    const window = Math.floor(now / 60_000);
    let count: number;
    try {
      count = await this.count(`rl:${client}:${window}`);
    } catch (error) {
      if (now - this.warnedAt > 60_000) {
        this.warnedAt = now;
        this.logger.warn({ err: (error as Error).message }, 'rate limiting suspended: Redis unreachable');
      }
      return;
    }
    if (count > limit) {
      const retryAfter = Math.max(1, Math.ceil(((window + 1) * 60_000 - now) / 1000));
      throw new DomainError(
        ErrorCode.RateLimited,
        `rate limit of ${limit} requests per minute exceeded; retry in ${retryAfter} s`,
        { limit },
        retryAfter,
      );
    }
  }

  /**
   * Adds one to the key's count and answers the count including this request. Requests that
   * arrive while a round trip is under way are counted by the next one together (one
   * INCRBY per key for all of them, in one MULTI): the same counts, one round trip.
   */
  private count(key: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.counting) return;
    this.counting = true;
    try {
      while (this.waiting.size) {
        const batch = this.waiting;
        this.waiting = new Map();
        const keys = [...batch.keys()];
        try {
          const multi = this.redis.multi();
          for (const key of keys) multi.incrby(key, batch.get(key)!.length).pexpire(key, 61_000);
          const result = await multi.exec();
          keys.forEach((key, i) => {
            const [error, total] = result?.[2 * i] ?? [new Error('no answer from Redis'), 0];
            const waiters = batch.get(key)!;
            if (error) for (const w of waiters) w.reject(error);
            // This round trip added waiters.length: the first of them is the (total - length + 1)th request.
            else waiters.forEach((w, k) => w.resolve(Number(total) - waiters.length + k + 1));
          });
        } catch (error) {
          for (const waiters of batch.values()) for (const w of waiters) w.reject(error);
        }
      }
    } finally {
      this.counting = false;
    }
  }
}
