import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { Clock } from '../../common/clock';
import { INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { OPS_REDIS } from '../../infra/redis/redis.module';
import { ElasticsearchPort } from '../../integrations/contracts';
import { CallOptions } from '../../integrations/integration-error';
import { ELASTICSEARCH } from '../../integrations/integrations.module';

/**
 * Observations of today's log document count, in Redis (shared by replicas), so that
 * "logs flowing" can say whether the count grew over the inventory's window. Besides the
 * checklist's own observations, a background sampler observes every third of the window
 * (at most every minute), so that even the first scheduled run of a day has one to
 * compare with.
 */
@Injectable()
export class LogsFlowStore implements OnModuleInit, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(OPS_REDIS) private readonly redis: Redis,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(ELASTICSEARCH) private readonly es: ElasticsearchPort,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    if (!this.config.OPS_STATS_SAMPLER) return;
    const every = Math.min(60_000, Math.max(1000, (this.inventory.logs.flowWindowSeconds * 1000) / 3));
    this.timer = setInterval(() => void this.sample(), every);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    try {
      const { count } = await this.todaysCount({ timeoutMs: 2000 });
      if (count > 0) await this.observe(count);
    } catch {
      // The checklist reports Elasticsearch's problems; the sampler just tries again.
    }
  }

  /** Today's indices of the inventory's pattern and their document count. */
  async todaysCount(options: CallOptions): Promise<{ today: string; indices: number; count: number }> {
    const today = this.clock.now().toISOString().slice(0, 10).replaceAll('-', '.');
    const indices = (await this.es.listIndices(this.inventory.logs.indexPattern, options)).filter((i) => i.index.endsWith(today));
    return { today, indices: indices.length, count: indices.reduce((sum, i) => sum + i.docsCount, 0) };
  }

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
