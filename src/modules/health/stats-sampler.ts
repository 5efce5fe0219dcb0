import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { ContainerStats, ContainerStatsSample, DockerPort } from '../../integrations/contracts';
import { DOCKER } from '../../integrations/integrations.module';

const INTERVAL_MS = 10_000;

/**
 * Reads every stack container's CPU and memory counters in the background (one-shot, every
 * 10 s), as a scraper would, so that the CPU check reads the use over the last interval at
 * once instead of waiting for the engine's 1 s collection cycle twice. When it cannot
 * answer (just started, or the engine unreachable), the check asks the engine directly.
 */
@Injectable()
export class StatsSampler implements OnModuleInit, OnApplicationShutdown {
  private readonly samples = new Map<string, ContainerStatsSample[]>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(DOCKER) private readonly docker: DockerPort,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    if (!this.config.OPS_STATS_SAMPLER) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async sample(): Promise<void> {
    await Promise.all(
      this.inventory.stack.services.map(async (service) => {
        try {
          const reading = await this.docker.statsSample(service.container, { timeoutMs: 3000 });
          const list = this.samples.get(service.container) ?? [];
          list.push(reading);
          this.samples.set(service.container, list.slice(-2));
        } catch {
          this.samples.delete(service.container);
        }
      }),
    );
  }

  /** CPU over the last interval and current memory, when two recent readings exist. */
  latest(container: string): ContainerStats | undefined {
    const [first, second] = this.samples.get(container) ?? [];
    if (!first || !second || Date.now() - second.at > 3 * INTERVAL_MS) return undefined;
    const cpuDelta = second.cpuTotal - first.cpuTotal;
    const systemDelta = second.systemTotal - first.systemTotal;
    const share = cpuDelta > 0 && systemDelta > 0 ? cpuDelta / systemDelta : 0;
    return { cpuPercent: Math.round(share * 10000) / 100, memoryBytes: second.memoryBytes, memoryLimitBytes: second.memoryLimitBytes };
  }
}
