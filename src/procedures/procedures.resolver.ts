import { Args, Mutation, ObjectType, Query, Resolver, Subscription } from '@nestjs/graphql';
import { GraphQLError } from 'graphql';
import { CurrentIdentity, CurrentRequest } from '../common/current-identity.decorator';
import { DomainError, GRAPHQL_CODE } from '../common/errors';
import { PageOf } from '../common/graphql-page';
import { ParseUuidPipe } from '../common/ids';
import { Identity, OpsRequest } from '../common/request-context';
import { RequireRight } from '../guards/right.decorator';
import { ProcedureRegistry } from './procedure-registry';
import { ParseProcedureIdPipe } from './procedures.controller';
import { CreateRunDto, ProcedureModel, RunArgs, RunEventModel, RunModel } from './procedures.dto';
import { RunEvent, RunEventFeed } from './run-events';
import { RunnerService } from './runner.service';

/** Over HTTP a subscription has no event to resolve: say where it is served instead of a null error. */
function eventOrRefusal(event?: RunEvent): RunEvent {
  if (event) return event;
  const error = DomainError.validation([
    {
      field: 'runEvents',
      problem: 'is a subscription: use graphql-ws (WebSocket, subprotocol graphql-transport-ws) at /graphql, not an HTTP request',
    },
  ]);
  throw new GraphQLError(error.message, { extensions: { code: GRAPHQL_CODE[error.code], errorCode: error.code, status: error.status } });
}

@ObjectType('RunPage')
class RunPageModel extends PageOf(RunModel, 'RunPageBase') {}

/** GraphQL face of the runner: the same service, rights, audit and errors as REST. */
@Resolver()
export class ProceduresResolver {
  constructor(
    private readonly runner: RunnerService,
    private readonly registry: ProcedureRegistry,
  ) {}

  @Query(() => [ProcedureModel], { description: 'The procedures the control plane can run' })
  @RequireRight('procedures.read')
  procedures(): ProcedureModel[] {
    return this.registry.list().map((d) => this.runner.describe(d));
  }

  @Query(() => RunPageModel, { description: 'Runs, newest first' })
  @RequireRight('procedures.read')
  runs(@Args() args: RunArgs) {
    return this.runner.list({ status: args.status, procedureId: args.procedure, limit: args.limit, cursor: args.cursor });
  }

  @Query(() => RunModel, { description: 'One run with its steps' })
  @RequireRight('procedures.read')
  run(@Args('id', new ParseUuidPipe()) id: string) {
    return this.runner.get(id);
  }

  @Mutation(() => RunModel, { description: 'Request a run (dryRun: plan only)' })
  @RequireRight('procedures.run', { action: 'procedure.request' })
  requestRun(
    @Args('procedureId', new ParseProcedureIdPipe('procedureId')) procedureId: string,
    @Args('input', { type: () => CreateRunDto, nullable: true, defaultValue: {} }) input: CreateRunDto,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
  ) {
    req.auditTarget = `procedure:${procedureId}`;
    return this.runner.request(procedureId, input ?? {}, identity);
  }

  @Mutation(() => RunModel, { description: 'Approve a run awaiting a second person' })
  @RequireRight('procedures.run', { action: 'procedure.approve' })
  approveRun(@Args('id', new ParseUuidPipe()) id: string, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    req.auditTarget = id;
    return this.runner.approve(id, identity, true);
  }

  @Mutation(() => RunModel, { description: 'Reject a run awaiting approval' })
  @RequireRight('procedures.run', { action: 'procedure.reject' })
  rejectRun(@Args('id', new ParseUuidPipe()) id: string, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    req.auditTarget = id;
    return this.runner.approve(id, identity, false);
  }

  @Mutation(() => RunModel, {
    description: "Cancel a run (a running step is aborted): its requester, or a role with the run's level in its domain",
  })
  @RequireRight('procedures.run', { action: 'procedure.cancel' })
  cancelRun(@Args('id', new ParseUuidPipe()) id: string, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    req.auditTarget = id;
    return this.runner.cancel(id, identity);
  }

  @Subscription(() => RunEventModel, {
    description: "The run's events (as the SSE stream): a snapshot, then each event until it ends",
    resolve: eventOrRefusal,
  })
  @RequireRight('procedures.read')
  runEvents(@Args('runId', new ParseUuidPipe('runId')) runId: string): Promise<RunEventFeed> {
    return this.runner.events(runId);
  }
}
