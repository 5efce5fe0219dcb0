import { Global, Module } from '@nestjs/common';
import { MetricsService } from '../../infra/metrics/metrics.service';
import { ShutdownState } from './shutdown-state';
import { SystemController } from './system.controller';

@Global()
@Module({
  controllers: [SystemController],
  providers: [MetricsService, ShutdownState],
  exports: [MetricsService],
})
export class SystemModule {}
