import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { OPS_REDIS } from '../../infra/redis/redis.module';
import { Public, RequireRight } from '../../guards/right.decorator';
import { MetricsService } from '../../infra/metrics/metrics.service';
import { ShutdownState } from './shutdown-state';

interface DependencyStatus {
  status: 'up' | 'down';
  latencyMs: number;
  error?: string;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref()),
  ]);
}

async function probe(check: () => Promise<unknown>): Promise<DependencyStatus> {
  const started = performance.now();
  try {
    await withTimeout(check(), 1000);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return {
      status: 'down',
      latencyMs: Math.round(performance.now() - started),
      error: (error as Error).message.split('\n')[0].slice(0, 200),
    };
  }
}

/**
 * The control plane's own health: liveness (the process only, never the ERP stack)
 * and readiness (its own database and Redis). The ERP stack's health is elsewhere.
 */
@ApiTags('system')
@Controller()
export class SystemController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(OPS_REDIS) private readonly redis: Redis,
    private readonly metrics: MetricsService,
    private readonly shutdown: ShutdownState,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  @Get('health')
  @Public({ rateLimit: false })
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live() {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @Public({ rateLimit: false })
  @ApiOperation({ summary: 'Readiness: its own database and Redis answer (503 otherwise)' })
  @ApiOkResponse({
    schema: {
      example: { status: 'ready', dependencies: { database: { status: 'up', latencyMs: 1 }, redis: { status: 'up', latencyMs: 0 } } },
    },
  })
  @ApiServiceUnavailableResponse({ description: 'Not ready; the body names the failing dependency' })
  async ready(@Res() response: unknown) {
    const [database, redis] = await Promise.all([probe(() => this.dataSource.query('SELECT 1')), probe(() => this.redis.ping())]);
    const ok = database.status === 'up' && redis.status === 'up' && !this.shutdown.shuttingDown;
    const body = { status: ok ? 'ready' : this.shutdown.shuttingDown ? 'shutting down' : 'not ready', dependencies: { database, redis } };
    this.adapterHost.httpAdapter.reply(response, body, ok ? 200 : 503);
  }

  @Get('metrics')
  @RequireRight('metrics.read')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({
    summary: 'Prometheus metrics of the control plane',
    description:
      'Needs a bearer token with metrics.read: any signed-in role, or a service identity made for the scraper (npm run user -- service-token prometheus --scopes metrics.read --out FILE; Prometheus: authorization.credentials_file).',
  })
  metricsText(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
