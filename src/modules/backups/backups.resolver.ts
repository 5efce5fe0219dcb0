import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { CurrentIdentity } from '../../common/current-identity.decorator';
import { ParseUuidPipe } from '../../common/ids';
import { Identity } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { BackupActions } from './backup-actions';
import { BackupService } from './backup.service';
import { BackupActionDto, BackupListArgs, BackupListModel, BackupModel, BackupRunModel, RestoreDto, RetentionDto } from './backups.dto';

/** GraphQL equivalents of /api/v1/backups (mutations answer at once with the run; poll run(id) or subscribe to runEvents). */
@Resolver()
export class BackupsResolver {
  constructor(
    private readonly backups: BackupService,
    private readonly actions: BackupActions,
  ) {}

  @Query(() => BackupListModel, { description: 'The backup catalog, newest first, plus files on disk the catalog does not know' })
  @RequireRight('backups.read')
  backupCatalog(@Args() args: BackupListArgs): Promise<BackupListModel> {
    return this.backups.list(args);
  }

  @Query(() => BackupModel)
  @RequireRight('backups.read')
  backup(@Args('id', new ParseUuidPipe('id')) id: string): Promise<BackupModel> {
    return this.actions.item(id);
  }

  @Mutation(() => BackupRunModel, { description: 'Back up the ERP database now (P3)' })
  @RequireRight('backups.create', { action: 'backup.create' })
  createBackup(@CurrentIdentity() identity: Identity, @Args('input', { nullable: true }) input?: BackupActionDto): Promise<BackupRunModel> {
    return this.actions.create(identity, input?.dryRun === true, {});
  }

  @Mutation(() => BackupRunModel, { description: 'Verify a backup with a restore drill (P3)' })
  @RequireRight('backups.verify', { action: 'backup.verify' })
  verifyBackup(
    @Args('id', new ParseUuidPipe('id')) id: string,
    @CurrentIdentity() identity: Identity,
    @Args('input', { nullable: true }) input?: BackupActionDto,
  ): Promise<BackupRunModel> {
    return this.actions.verify(identity, id, input?.dryRun === true, {});
  }

  @Mutation(() => BackupRunModel, { description: 'Restore the ERP database from a backup (P1, approval, confirm = database name)' })
  @RequireRight('backups.restore', { action: 'backup.restore' })
  restoreBackup(
    @Args('id', new ParseUuidPipe('id')) id: string,
    @Args('input') input: RestoreDto,
    @CurrentIdentity() identity: Identity,
  ): Promise<BackupRunModel> {
    return this.actions.restore(identity, id, input, {});
  }

  @Mutation(() => BackupRunModel, { description: 'Delete a backup (P2); never the newest verified one' })
  @RequireRight('backups.delete', { action: 'backup.delete' })
  deleteBackup(
    @Args('id', new ParseUuidPipe('id')) id: string,
    @CurrentIdentity() identity: Identity,
    @Args('input', { nullable: true }) input?: BackupActionDto,
  ): Promise<BackupRunModel> {
    return this.actions.remove(identity, id, input?.dryRun === true, { wait: true, waitSeconds: 60 });
  }

  @Mutation(() => BackupRunModel, { description: 'Apply backup retention (P2)' })
  @RequireRight('backups.delete', { action: 'backup.retention' })
  applyBackupRetention(
    @CurrentIdentity() identity: Identity,
    @Args('input', { nullable: true }) input?: RetentionDto,
  ): Promise<BackupRunModel> {
    return this.actions.retention(identity, input ?? {}, {});
  }
}
