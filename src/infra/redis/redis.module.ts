import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';

export const OPS_REDIS = Symbol('OPS_REDIS');

/**
 * The control plane's own Redis (locks, counters, caches, queues), not the ERP's.
 * Commands fail fast when it is down instead of queueing, so that readiness and the
 * callers can tell.
 */
export function createOpsRedis(config: AppConfig): Redis {
  const client = new Redis(config.OPS_REDIS_URL, {
    keyPrefix: config.OPS_REDIS_PREFIX,
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // Connection errors are reported by readiness; log them once per minute, not per retry.
  let lastLogged = 0;
  client.on('error', (error) => {
    if (Date.now() - lastLogged < 60_000) return;
    lastLogged = Date.now();
    logger.warn(`Redis unreachable: ${error.message}`);
  });
  return client;
}

const logger = new Logger('Redis');

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(OPS_REDIS) private readonly redis: Redis) {}
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Global()
@Module({
  providers: [{ provide: OPS_REDIS, inject: [APP_CONFIG], useFactory: (config: AppConfig) => createOpsRedis(config) }, RedisCloser],
  exports: [OPS_REDIS],
})
export class RedisModule {}
