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

  async consume(client: string): Promise<void> {
    const limit = this.config.OPS_RATE_LIMIT_PER_MINUTE;
    if (limit === 0) return;
    const now = Date.now();
    const window = Math.floor(now / 60_000);
    const key = `rl:${client}:${window}`;
    let count: number;
    try {
      const result = await this.redis.multi().incr(key).pexpire(key, 61_000).exec();
      count = Number(result?.[0]?.[1] ?? 0);
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
}
