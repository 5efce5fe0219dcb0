import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { Clock } from '../../common/clock';
import { INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { OPS_REDIS } from '../../infra/redis/redis.module';

/**
 * Observations of today's log document count, in Redis (shared by replicas), so that
 * "logs flowing" can say whether the count grew over the inventory's window.
 */
@Injectable()
export class LogsFlowStore {
  constructor(
    @Inject(OPS_REDIS) private readonly redis: Redis,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    private readonly clock: Clock,
  ) {}

  /** Records `count` now; returns today's latest observation at least the window old. */
  async observe(count: number): Promise<{ previous?: { count: number; at: Date } }> {
    const now = this.clock.now().getTime();
    const windowMs = this.inventory.logs.flowWindowSeconds * 1000;
    const key = `health:logs-flow:${new Date(now).toISOString().slice(0, 10)}`;
    const [found] = (await this.redis.zrevrangebyscore(key, now - windowMs, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)) as string[];
    await this.redis
      .multi()
      .zadd(key, now, `${now}:${count}`)
      .zremrangebyscore(key, '-inf', now - 3 * windowMs - 60_000)
      .pexpire(key, 2 * 86_400_000)
      .exec();
    if (!found) return {};
    const [at, previousCount] = found.split(':').map(Number);
    return { previous: { count: previousCount, at: new Date(at) } };
  }
}
