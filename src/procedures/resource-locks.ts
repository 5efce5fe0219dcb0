import { Inject, Injectable, Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { DomainError, ErrorCode } from '../common/errors';
import { OPS_REDIS } from '../infra/redis/redis.module';

/** Takes every named resource or none: refuses with the first holder found. */
const ACQUIRE = `
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder and holder ~= ARGV[1] then return {tostring(i), holder} end
end
for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'PX', ARGV[2]) end
return {}
`;

/**
 * Extends the leases this holder still has, and takes back those that vanished (a Redis
 * restarted without its keys) unless another holder took them meanwhile; returns how many
 * it holds now.
 */
const EXTEND = `
local n = 0
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2]); n = n + 1
  elseif not holder then redis.call('SET', key, ARGV[1], 'PX', ARGV[2]); n = n + 1 end
end
return n
`;

/** Releases only what this holder holds. */
const RELEASE = `
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key); n = n + 1 end
end
return n
`;

export interface Lease {
  holder: string;
  resources: string[];
  /** False once a heartbeat found a resource no longer held (lease lost). */
  readonly held: boolean;
  release(): Promise<void>;
}

const RESOURCE = /^[a-z][a-z0-9-]*:[a-z0-9][a-z0-9._-]*$/;

/**
 * Named resource locks (e.g. `erp:postgres`) in the control plane's Redis, shared by every
 * replica: a lease that a heartbeat keeps alive while the holder runs, released on every
 * ending, and expiring by itself when the holder died. A second run needing a held resource
 * is refused at once (409) with the holder's id.
 */
@Injectable()
export class ResourceLocks {
  private readonly logger = new Logger(ResourceLocks.name);

  constructor(@Inject(OPS_REDIS) private readonly redis: Redis) {}

  private key(resource: string): string {
    return `lock:${resource}`;
  }

  async holderOf(resource: string): Promise<string | null> {
    return this.redis.get(this.key(resource));
  }

  /** Releases those of `resources` that `holder` still holds (a dead run's, by the sweep). */
  async release(resources: string[], holder: string): Promise<number> {
    const keys = [...new Set(resources)].filter((r) => RESOURCE.test(r)).map((r) => this.key(r));
    if (!keys.length) return 0;
    return Number(await this.redis.eval(RELEASE, keys.length, ...keys, holder));
  }

  /** Takes all `resources` for `holder` (a run id) or throws CONFLICT naming the holder. */
  async acquire(resources: string[], holder: string, leaseMs = 30_000): Promise<Lease> {
    const names = [...new Set(resources)].sort();
    for (const name of names) if (!RESOURCE.test(name)) throw new Error(`invalid resource name ${name}`);
    const keys = names.map((r) => this.key(r));
    const refused = (await this.redis.eval(ACQUIRE, keys.length, ...keys, holder, String(leaseMs))) as string[];
    if (refused.length) {
      const resource = names[Number(refused[0]) - 1];
      throw new DomainError(ErrorCode.Conflict, `${resource} is held by run ${refused[1]}; wait for it to end or cancel it`, {
        resource,
        heldBy: refused[1],
      });
    }
    let held = true;
    const heartbeat = setInterval(
      () => {
        this.redis.eval(EXTEND, keys.length, ...keys, holder, String(leaseMs)).then(
          (n) => {
            if (Number(n) < keys.length) {
              held = false;
              this.logger.warn(`run ${holder} lost its lease on ${names.join(', ')}`);
            }
          },
          (error: Error) => this.logger.warn(`lease heartbeat of run ${holder} failed: ${error.message}`),
        );
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    heartbeat.unref();
    const redis = this.redis;
    return {
      holder,
      resources: names,
      get held() {
        return held;
      },
      async release() {
        clearInterval(heartbeat);
        try {
          await redis.eval(RELEASE, keys.length, ...keys, holder);
        } catch (error) {
          // Redis away: try again in the background until the lease would have expired anyway,
          // so that a run that ended does not hold its resources for the rest of its lease.
          const until = Date.now() + leaseMs;
          const retry = () => {
            if (Date.now() > until) return;
            redis.eval(RELEASE, keys.length, ...keys, holder).catch(() => setTimeout(retry, 1000).unref());
          };
          setTimeout(retry, 1000).unref();
          throw error;
        }
      },
    };
  }
}
