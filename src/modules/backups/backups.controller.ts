import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentIdentity, CurrentRequest } from '../../common/current-identity.decorator';
import { ParseUuidPipe } from '../../common/ids';
import { BoundedByHandler } from '../../interceptors/timeout.interceptor';
import { Identity, OpsRequest } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { FINISHED } from '../../procedures/run.entity';
import { BackupActions } from './backup-actions';
import { BackupService } from './backup.service';
import {
  BackupActionDto,
  BackupListModel,
  BackupListQuery,
  BackupModel,
  BackupRunModel,
  DeleteQuery,
  RestoreDto,
  RetentionDto,
  WaitQuery,
} from './backups.dto';

interface StatusReply {
  status(code: number): unknown;
}

/** 200 when the run ended (or is a dry run), 202 while it is queued, running or awaiting approval. */
function answer<T extends { run: { status: string } }>(reply: StatusReply, result: T): T {
  reply.status(FINISHED.includes(result.run.status as never) ? 200 : 202);
  return result;
}

const ID = new ParseUuidPipe('id');

@ApiTags('backups')
@Controller('api/v1/backups')
export class BackupsController {
  constructor(
    private readonly backups: BackupService,
    private readonly actions: BackupActions,
  ) {}

  @Get()
  @RequireRight('backups.read')
  @ApiOperation({ summary: 'The backup catalog, newest first (age, size, verified state), plus files on disk the catalog does not know' })
  @ApiOkResponse({ type: BackupListModel })
  list(@Query() query: BackupListQuery): Promise<BackupListModel> {
    return this.backups.list(query);
  }

  @Get(':id')
  @RequireRight('backups.read')
  @ApiOperation({ summary: 'One catalog entry (ids are catalog ids, never paths)' })
  @ApiOkResponse({ type: BackupModel })
  get(@Param('id', ID) id: string): Promise<BackupModel> {
    return this.actions.item(id);
  }

  @Post()
  @HttpCode(202)
  @RequireRight('backups.create', { action: 'backup.create' })
  @BoundedByHandler()
  @ApiOperation({ summary: 'Back up the ERP database now (P3). ?wait=true answers when the backup is on disk and catalogued' })
  @ApiAcceptedResponse({ type: BackupRunModel, description: '202 while the run is queued or running; 200 once it ended' })
  async create(
    @Body() body: BackupActionDto,
    @Query() query: WaitQuery,
    @CurrentIdentity() identity: Identity,
    @Res({ passthrough: true }) reply: StatusReply,
  ): Promise<BackupRunModel> {
    return answer(reply, await this.actions.create(identity, body.dryRun === true, query));
  }

  @Post('retention')
  @HttpCode(202)
  @RequireRight('backups.delete', { action: 'backup.retention' })
  @BoundedByHandler()
  @ApiOperation({
    summary:
      'Apply retention (P2): the 7-day window, or keep the last N under disk pressure; never the newest verified backup; unknown files listed, not deleted',
  })
  @ApiAcceptedResponse({ type: BackupRunModel })
  async retention(
    @Body() body: RetentionDto,
    @Query() query: WaitQuery,
    @CurrentIdentity() identity: Identity,
    @Res({ passthrough: true }) reply: StatusReply,
  ): Promise<BackupRunModel> {
    return answer(reply, await this.actions.retention(identity, body, query));
  }

  @Post(':id/verify')
  @HttpCode(202)
  @RequireRight('backups.verify', { action: 'backup.verify' })
  @BoundedByHandler()
  @ApiOperation({
    summary: 'Verify a backup (P3): size, SHA-256, gzip stream, completion marker, and a restore drill into a scratch database',
  })
  @ApiAcceptedResponse({ type: BackupRunModel })
  async verify(
    @Param('id', ID) id: string,
    @Body() body: BackupActionDto,
    @Query() query: WaitQuery,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
    @Res({ passthrough: true }) reply: StatusReply,
  ): Promise<BackupRunModel> {
    req.auditTarget = `backup:${id}`;
    return answer(reply, await this.actions.verify(identity, id, body.dryRun === true, query));
  }

  @Post(':id/restore')
  @HttpCode(202)
  @RequireRight('backups.restore', { action: 'backup.restore' })
  @BoundedByHandler()
  @ApiOperation({
    summary:
      'Restore the ERP database from this backup (P1): approval by the complementary role, `confirm` = the database name; safety backup, backend stopped, one transaction, ANALYZE, backend started and healthy',
  })
  @ApiAcceptedResponse({ type: BackupRunModel })
  async restore(
    @Param('id', ID) id: string,
    @Body() body: RestoreDto,
    @Query() query: WaitQuery,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
    @Res({ passthrough: true }) reply: StatusReply,
  ): Promise<BackupRunModel> {
    req.auditTarget = `backup:${id}`;
    return answer(reply, await this.actions.restore(identity, id, body, query));
  }

  @Delete(':id')
  @RequireRight('backups.delete', { action: 'backup.delete' })
  @BoundedByHandler()
  @ApiOperation({
    summary:
      'Delete a backup (P2): its file; the catalog keeps the entry as deleted. Never the newest verified backup. Waits for the run unless wait=false',
  })
  @ApiOkResponse({ type: BackupRunModel })
  async remove(
    @Param('id', ID) id: string,
    @Query() query: DeleteQuery,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
    @Res({ passthrough: true }) reply: StatusReply,
  ): Promise<BackupRunModel> {
    req.auditTarget = `backup:${id}`;
    return answer(
      reply,
      await this.actions.remove(identity, id, query.dryRun === true, { wait: query.wait ?? true, waitSeconds: query.waitSeconds ?? 60 }),
    );
  }
}
