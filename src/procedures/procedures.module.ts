import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ProcedureRegistry } from './procedure-registry';
import { ProceduresController } from './procedures.controller';
import { ProceduresResolver } from './procedures.resolver';
import { ResourceLocks } from './resource-locks';
import { RunEvents } from './run-events';
import { RunExecutor } from './run-executor';
import { RunRecords } from './run-records';
import { RunSweeper } from './run-sweeper';
import { RunEntity, StepEntity } from './run.entity';
import { RunnerService } from './runner.service';
import { RunnerWorker } from './runner.worker';

/** The procedure runner; feature modules register their procedures in the registry. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([RunEntity, StepEntity])],
  controllers: [ProceduresController],
  providers: [
    ProcedureRegistry,
    ResourceLocks,
    RunEvents,
    RunRecords,
    RunExecutor,
    RunSweeper,
    RunnerService,
    RunnerWorker,
    ProceduresResolver,
  ],
  exports: [ProcedureRegistry, RunnerService, ResourceLocks, RunEvents],
})
export class ProceduresModule {}
