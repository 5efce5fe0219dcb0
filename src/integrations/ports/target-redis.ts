/** The port of target-redis/ (ioredis): the ERP's Redis. */
import { CallOptions } from '../integration-error';

export interface TargetRedisPort {
  ping(options: CallOptions): Promise<{ latencyMs: number }>;
  /** INFO memory: used_memory and maxmemory in bytes. */
  memory(options: CallOptions): Promise<{ usedBytes: number; maxBytes: number }>;
  close(): Promise<void>;
}
