import { Inventory } from '../../../config/inventory.schema';
import { TargetRedisPort } from '../../../integrations/contracts';
import { bandVerdict, CheckDefinition, singleCheck } from '../check';

/** The runbook's manual health check: `docker-compose exec redis redis-cli ping` answers PONG, in time. */
export function redisPingCheck(inventory: Inventory, redis: TargetRedisPort): CheckDefinition {
  const band = inventory.thresholds.redisPingMs;
  return singleCheck(
    {
      id: 'redis:ping',
      title: 'the ERP Redis answers PING (redis-cli ping)',
      timeoutMs: Math.min(2000, Math.max(500, band.fail * 2)),
      expected: `PONG within ${band.fail} ms (warn at ${band.warn} ms)`,
      nextStep: 'check erp-redis (docker-compose ps redis; docker-compose logs redis) and the ERP_REDIS_URL credentials',
      system: 'Redis',
    },
    async (ctx) => {
      const { latencyMs } = await redis.ping(ctx);
      return { verdict: bandVerdict(latencyMs, band), observed: `PONG in ${latencyMs} ms` };
    },
  );
}
