import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import Redis from 'ioredis';
import { DataSource, In, LessThanOrEqual } from 'typeorm';
import { z } from 'zod';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode } from '../common/errors';
import { decodeCursor, encodeCursor, Page, pageSize } from '../common/pagination';
import { Identity, RESERVED_USERNAMES } from '../common/request-context';
import { maskSecrets } from '../common/secrets';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG, INVENTORY } from '../config/config.module';
import { Inventory, Severity } from '../config/inventory.schema';
import { mayApprove, roleHasLevel, ROLES } from '../common/rights';
import { OPS_REDIS } from '../infra/redis/redis.module';
import { AuditService } from '../audit/audit.service';
import { EarlierStep, earlierSteps, EscalationError, ProcedureDefinition, StepContext, StepOutput } from './procedure';
import { ProcedureRegistry } from './procedure-registry';
import { ResourceLocks } from './resource-locks';
import { RunEventFeed, RunEvents } from './run-events';
import { FINISHED, RunEntity, RunStatus, StepEntity } from './run.entity';

/** A worker refreshes its runs' alive keys every third of this; a run without one was left by a dead worker. */
export const ALIVE_TTL_MS = 15_000;
const MAX_OUTPUT_BYTES = 65_536;
/** A dry run still "running" this long after it started lost its process (dry runs live inside a request). */
const DRY_RUN_ABANDONED_MS = 15 * 60_000;

export interface RunRequest {
  parameters?: Record<string, unknown>;
  dryRun?: boolean;
  confirm?: string;
}

export interface RunView extends RunEntity {
  steps: StepEntity[];
}

function bounded(output: StepOutput): never {
  const masked = maskSecrets(output);
  const json = JSON.stringify(masked) ?? '{}';
  return (json.length > MAX_OUTPUT_BYTES ? { truncated: true, preview: json.slice(0, 2048) } : JSON.parse(json)) as never;
}

/** The procedure's parameters as JSON Schema (what a client may send). */
function parametersSchema(definition: ProcedureDefinition): Record<string, unknown> {
  try {
    const schema = z.toJSONSchema(definition.parameters, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    delete schema.$schema;
    return schema;
  } catch {
    return { type: 'object' };
  }
}

/** The reason a cancelled run's steps see on ctx.signal. */
export class RunCancelledError extends Error {
  constructor() {
    super('the run was cancelled');
    this.name = 'AbortError';
  }
}

function zodProblems(error: z.ZodError) {
  return error.issues.map((i) => ({
    field: ['parameters', ...i.path.map(String)].join('.'),
    problem: i.code === 'unrecognized_keys' ? `unknown parameter(s) ${i.keys.join(', ')}` : i.message,
  }));
}

/**
 * The one way anything changes the ERP stack: rights (the escalation matrix), typed
 * confirmation, the two-person approval, locks, dry runs (every plan(), no run()), steps
 * with timeouts in a queue worker, run and step records, progress events, cancellation.
 */
@Injectable()
export class RunnerService implements OnModuleInit {
  private readonly logger = new Logger(RunnerService.name);
  /** Hands a queued run to the job queue (set by the worker). */
  enqueue: (runId: string) => Promise<void> = async () => undefined;
  /** Runs executing in this process, to abort their current step on cancel. */
  private readonly active = new Map<string, AbortController>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(OPS_REDIS) private readonly redis: Redis,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: ProcedureRegistry,
    private readonly locks: ResourceLocks,
    private readonly clock: Clock,
    private readonly runEvents: RunEvents,
    private readonly audit: AuditService,
  ) {}

  /** Every replica hears every cancel: the one executing the run aborts its step. */
  private get cancelChannel(): string {
    return `${this.config.OPS_REDIS_PREFIX}run-cancel`;
  }

  onModuleInit(): void {
    this.runEvents
      .listen(this.cancelChannel, (runId) => this.abortLocal(runId))
      .catch((error: Error) => this.logger.warn(`cancel channel: ${error.message}`));
  }

  private abortLocal(runId: string): void {
    const controller = this.active.get(runId);
    if (controller && !controller.signal.aborted) controller.abort(new RunCancelledError());
  }

  private get runs() {
    return this.dataSource.getRepository(RunEntity);
  }

  private get steps() {
    return this.dataSource.getRepository(StepEntity);
  }

  /** Refuses a role below the procedure's level with 403 naming whom to escalate to. */
  private checkRight(definition: ProcedureDefinition, severity: Severity, identity: Identity): void {
    if (roleHasLevel(identity.role, severity, definition.domain)) return;
    const level = this.inventory.escalation[severity];
    const roles = ROLES.filter((r) => roleHasLevel(r, severity, definition.domain));
    const why =
      severity === definition.severity
        ? `it is a ${severity} ${definition.domain} procedure`
        : `with these parameters it is a ${severity} ${definition.domain} action (the procedure is ${definition.severity} otherwise)`;
    throw new DomainError(
      ErrorCode.Forbidden,
      `${identity.role} may not run ${definition.id}: ${why}; escalate to ${level.contacts.join(', ')}`,
      {
        procedure: definition.id,
        level: severity,
        domain: definition.domain,
        yourRole: identity.role,
        rolesWithRight: roles,
        escalateTo: level.contacts,
        responseMinutes: level.responseMinutes,
      },
    );
  }

  async request(procedureId: string, body: RunRequest, identity: Identity): Promise<RunView> {
    const definition = this.registry.get(procedureId);
    const parsed = definition.parameters.safeParse(body.parameters ?? {});
    if (!parsed.success) throw DomainError.validation(zodProblems(parsed.error));
    const parameters = parsed.data;
    const severity = definition.severityFor?.(parameters) ?? definition.severity;
    this.checkRight(definition, severity, identity);
    const dryRun = body.dryRun === true;
    if (!dryRun && definition.confirmation) {
      const expected = definition.confirmation(parameters, this.inventory);
      if (body.confirm !== expected) {
        throw DomainError.validation([
          { field: 'confirm', problem: `must equal "${expected}" (the target's name) to confirm this ${definition.severity} action` },
        ]);
      }
    }
    const resources = definition.locks(parameters, this.inventory);
    if (!dryRun) {
      for (const resource of resources) {
        const holder = await this.locks.holderOf(resource);
        if (holder)
          throw new DomainError(ErrorCode.Conflict, `${resource} is held by run ${holder}; wait for it to end or cancel it`, {
            resource,
            heldBy: holder,
          });
      }
    }
    const now = this.clock.now();
    const run = this.runs.create({
      id: randomUUID(),
      procedureId: definition.id,
      severity,
      dryRun,
      status: dryRun ? 'running' : definition.requiresApproval ? 'awaiting_approval' : 'queued',
      parameters: maskSecrets(parameters as Record<string, unknown>),
      requestedBy: identity.username,
      requestedById: identity.userId,
      requestedRole: identity.role,
      approvedBy: null,
      approvedById: null,
      decidedAt: null,
      approvalExpiresAt:
        !dryRun && definition.requiresApproval ? new Date(now.getTime() + this.config.OPS_APPROVAL_TTL_SECONDS * 1000) : null,
      cancelRequested: false,
      currentStep: null,
      error: null,
      createdAt: now,
      startedAt: dryRun ? now : null,
      finishedAt: null,
    });
    await this.dataSource.transaction(async (m) => {
      await m.insert(RunEntity, run as never);
      await m.insert(
        StepEntity,
        definition.steps.map((s, position) => ({ runId: run.id, position, stepId: s.id, title: s.title, status: 'pending' })) as never,
      );
    });
    if (dryRun) await this.dryRun(definition, run, parameters);
    else if (run.status === 'queued') await this.enqueueOrFail(run.id);
    return this.get(run.id);
  }

  /**
   * Queues a run; when the queue cannot take it (its Redis away) the run ends `failed` saying
   * so, and the caller gets the 503: no run stays queued without a job, and none runs later
   * behind the back of a client that was told it failed.
   */
  private async enqueueOrFail(runId: string): Promise<void> {
    try {
      await this.enqueue(runId);
    } catch (error) {
      const why = `not queued: ${(error as Error).message}`.slice(0, 2000);
      await this.runs
        .update({ id: runId, status: 'queued' }, { status: 'failed', error: why, finishedAt: this.clock.now() })
        .catch(() => undefined);
      await this.steps.update({ runId, status: 'pending' }, { status: 'cancelled' }).catch(() => undefined);
      throw error;
    }
  }

  /** Every plan(), no run(): exactly what a real run would touch. */
  private async dryRun(definition: ProcedureDefinition, run: RunEntity, parameters: unknown): Promise<void> {
    const controller = new AbortController();
    let failure: string | null = null;
    let outcome: { status: RunStatus; error: string | null } | undefined;
    try {
      for (const [position, step] of definition.steps.entries()) {
        let plan: StepOutput;
        try {
          plan = await this.withTimeout(step.plan(this.context(run, parameters, controller.signal, [])), step.timeoutMs, `${step.id} plan`);
        } catch (error) {
          failure = `${step.id}: ${(error as Error).message}`;
          await this.steps.update({ runId: run.id, position }, { status: 'failed', error: (error as Error).message.slice(0, 2000) });
          break;
        }
        await this.steps.update({ runId: run.id, position }, { status: 'planned', plan: bounded(plan) });
      }
      outcome = { status: failure ? 'failed' : 'succeeded', error: failure };
      await this.runs.update({ id: run.id }, { ...outcome, finishedAt: this.clock.now() });
    } catch (error) {
      // Its record could not be written (the database went away): the run must not stay
      // "running"; its end is written as soon as the database answers again.
      this.endLater(
        run.id,
        outcome ?? {
          status: 'failed',
          error: `the dry run stopped: its record could not be written (${(error as Error).message})`.slice(0, 2000),
        },
      );
      throw error;
    }
  }

  /**
   * Writes a run's end in the background, again and again until the database takes it (for
   * up to 10 minutes), unless the run ended otherwise meanwhile (e.g. the sweep found it).
   */
  private endLater(runId: string, end: { status: RunStatus; error: string | null }): void {
    const finishedAt = this.clock.now();
    const until = Date.now() + 600_000;
    let delay = 500;
    const attempt = () => {
      this.dataSource
        .transaction(async (m) => {
          const updated = await m.update(RunEntity, { id: runId, status: 'running' }, { ...end, finishedAt });
          if (updated.affected) await m.update(StepEntity, { runId, status: In(['pending', 'running']) }, { status: 'cancelled' });
          return updated.affected;
        })
        .then(
          (affected) => (affected ? this.publish(runId, { type: 'status', ...end }) : undefined),
          (error: Error) => {
            if (Date.now() > until)
              return this.logger.warn(`run ${runId} still shows running: its end (${end.status}) could not be written: ${error.message}`);
            delay = Math.min(delay * 2, 10_000);
            setTimeout(attempt, delay).unref();
          },
        );
    };
    setTimeout(attempt, delay).unref();
  }

  private context(run: RunEntity, parameters: unknown, signal: AbortSignal, done: readonly EarlierStep[]): StepContext<any> {
    const logger = this.logger;
    return {
      runId: run.id,
      parameters,
      inventory: this.inventory,
      signal,
      requester: { username: run.requestedBy, userId: run.requestedById, role: run.requestedRole },
      ...earlierSteps(done),
      log: {
        info: (message) => logger.log(`run ${run.id} (${run.procedureId}): ${message}`),
        warn: (message) => logger.warn(`run ${run.id} (${run.procedureId}): ${message}`),
      },
      now: () => this.clock.now(),
      progress: (update) => void this.publish(run.id, { type: 'progress', step: run.currentStep, ...update }),
    };
  }

  /** Rejects after `ms` and then aborts `onTimeout` (the step's own signal). */
  private async withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: AbortController): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<T>((_, reject) => {
          timer = setTimeout(() => {
            const error = new Error(`${what} timed out after ${ms} ms`);
            reject(error);
            onTimeout?.abort(error);
          }, ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async publish(runId: string, event: Record<string, unknown>): Promise<void> {
    await this.redis
      .publish(`run-events:${runId}`, JSON.stringify({ runId, at: this.clock.now().toISOString(), ...event }))
      .catch(() => undefined);
  }

  /** The worker's entry: locks, steps in order, records; never leaves a run "running". */
  async execute(runId: string): Promise<void> {
    const run = await this.runs.findOne({ where: { id: runId } });
    if (!run || run.status !== 'queued') return;
    const definition = this.registry.get(run.procedureId);
    const parsed = definition.parameters.safeParse(run.parameters);
    if (!parsed.success) {
      await this.finish(run.id, 'failed', 'stored parameters no longer validate');
      return;
    }
    let lease;
    try {
      lease = await this.locks.acquire(definition.locks(parsed.data, this.inventory), run.id);
    } catch (error) {
      await this.finish(run.id, 'failed', (error as Error).message);
      return;
    }
    const controller = new AbortController();
    this.active.set(run.id, controller);
    // The alive key tells the sweep this run's worker lives; the same beat re-reads the
    // cancel flag, in case the cancel message was missed.
    const beat = async () => {
      await this.redis.set(`run-alive:${run.id}`, '1', 'PX', ALIVE_TTL_MS).catch(() => undefined);
      const row = await this.runs.findOne({ where: { id: run.id }, select: { id: true, cancelRequested: true } }).catch(() => null);
      if (row?.cancelRequested) this.abortLocal(run.id);
    };
    const alive = setInterval(() => void beat(), ALIVE_TTL_MS / 3);
    alive.unref();
    await this.redis.set(`run-alive:${run.id}`, '1', 'PX', ALIVE_TTL_MS).catch(() => undefined);
    const remaining = (position: number) => In(definition.steps.map((_, i) => i).filter((i) => i > position));
    // How the run ends; recorded only after its locks are free (finally), so that a run shown
    // as ended never holds a resource (a client seeing "succeeded" may at once ask for another).
    let ending: { status: RunStatus; error: string | null } | undefined;
    try {
      // Only a run still queued starts (it may have been cancelled meanwhile).
      const started = await this.runs.update({ id: run.id, status: 'queued' }, { status: 'running', startedAt: this.clock.now() });
      if (!started.affected) return;
      await this.publish(run.id, { type: 'status', status: 'running' });
      const done: EarlierStep[] = [];
      for (const [position, step] of definition.steps.entries()) {
        const current = await this.runs.findOne({ where: { id: run.id } });
        if (current?.cancelRequested || controller.signal.aborted) {
          await this.steps.update(
            { runId: run.id, position: In(definition.steps.map((_, i) => i).filter((i) => i >= position)) },
            { status: 'cancelled' },
          );
          const note = position > 0 ? await this.recover(run, 'cancelled') : null;
          ending = { status: 'cancelled', error: note };
          return;
        }
        run.currentStep = step.id;
        await this.runs.update({ id: run.id }, { currentStep: step.id });
        await this.steps.update({ runId: run.id, position }, { status: 'running', startedAt: this.clock.now() });
        await this.publish(run.id, { type: 'step', step: step.id, status: 'running' });
        // The step's signal aborts on cancel (any replica) and on its own timeout.
        const stepTimeout = new AbortController();
        const ctx = this.context(run, parsed.data, AbortSignal.any([controller.signal, stepTimeout.signal]), done);
        const startedAt = this.clock.now();
        try {
          const plan = await this.withTimeout(step.plan(ctx), step.timeoutMs, `${step.id} plan`, stepTimeout);
          let output = await this.withTimeout(step.run(ctx), step.timeoutMs, step.id, stepTimeout);
          if (step.verify)
            output = {
              ...output,
              verified: await this.withTimeout(step.verify(ctx, output), step.timeoutMs, `${step.id} verify`, stepTimeout),
            };
          await this.steps.update(
            { runId: run.id, position },
            { status: 'succeeded', plan: bounded(plan), output: bounded(output), finishedAt: this.clock.now() },
          );
          await this.publish(run.id, { type: 'step', step: step.id, status: 'succeeded' });
          done.push({ id: step.id, title: step.title, startedAt, finishedAt: this.clock.now(), output });
        } catch (error) {
          const message = String((error as Error)?.message ?? error).slice(0, 2000);
          if (controller.signal.aborted) {
            // Cancelled: the step stopped on its signal, or ignored it until its timeout.
            const why = stepTimeout.signal.aborted
              ? `cancelled; the step did not stop on its signal: ${message}`
              : 'cancelled while running';
            await this.steps.update({ runId: run.id, position }, { status: 'cancelled', error: why, finishedAt: this.clock.now() });
            await this.publish(run.id, { type: 'step', step: step.id, status: 'cancelled' });
            await this.steps.update({ runId: run.id, position: remaining(position) }, { status: 'cancelled' });
            const note = await this.recover(run, 'cancelled');
            ending = { status: 'cancelled', error: `cancelled during ${step.id}${note ? `; ${note}` : ''}` };
            return;
          }
          if (error instanceof EscalationError) {
            // The procedure could not fix it: whom to call, and what to hand them.
            const level = this.inventory.escalation[error.level];
            const why = `${message}; escalate to ${level.contacts.join(', ')} (${error.level}, ${level.responseMinutes} min)`.slice(
              0,
              2000,
            );
            await this.steps.update(
              { runId: run.id, position },
              {
                status: 'failed',
                error: message,
                output: bounded({ ...error.details, escalateTo: level.contacts, level: error.level }),
                finishedAt: this.clock.now(),
              },
            );
            await this.publish(run.id, { type: 'step', step: step.id, status: 'failed', error: message });
            await this.steps.update({ runId: run.id, position: remaining(position) }, { status: 'skipped' });
            ending = { status: 'escalated', error: why };
            return;
          }
          await this.steps.update({ runId: run.id, position }, { status: 'failed', error: message, finishedAt: this.clock.now() });
          await this.publish(run.id, { type: 'step', step: step.id, status: 'failed', error: message });
          await this.steps.update({ runId: run.id, position: remaining(position) }, { status: 'skipped' });
          ending = { status: 'failed', error: `${step.id}: ${message}` };
          return;
        }
      }
      ending = { status: 'succeeded', error: null };
    } finally {
      clearInterval(alive);
      this.active.delete(run.id);
      try {
        definition.onEnd?.(run.id);
      } catch (error) {
        this.logger.warn(`ending run ${run.id}: ${(error as Error).message}`);
      }
      controller.abort();
      await this.redis.del(`run-alive:${run.id}`).catch(() => undefined);
      await lease.release().catch(() => undefined);
      if (ending) await this.finish(run.id, ending.status, ending.error);
    }
  }

  private async finish(runId: string, status: RunStatus, error: string | null): Promise<void> {
    try {
      await this.runs.update({ id: runId }, { status, error, finishedAt: this.clock.now() });
    } catch (failure) {
      // The database went away as the run ended: its real end is written once it is back.
      this.endLater(runId, { status, error });
      throw failure;
    }
    await this.publish(runId, { type: 'status', status, error });
  }

  /** Whether the run was requested by this person (through any of their identities: sign-in or API tokens). */
  private isRequester(run: RunEntity, identity: Identity): boolean {
    if (run.requestedById) return identity.userId === run.requestedById;
    // The scheduler's runs have no person behind them; runs stored before people were
    // tracked by id compare names (reserved names are never a person's).
    if (!identity.userId || RESERVED_USERNAMES.includes(run.requestedBy)) return false;
    return run.requestedBy === identity.username;
  }

  /**
   * Approve or reject a run awaiting a second person: a person (not a service identity or
   * the system), not the requester under any of their identities (a token counts as its
   * owner), of the complementary role. Every refusal is a 403 (audited as denied).
   */
  async approve(runId: string, identity: Identity, approve: boolean): Promise<RunView> {
    const verb = approve ? 'approve' : 'reject';
    const run = await this.getRun(runId);
    if (!identity.userId || identity.role === 'service') {
      throw new DomainError(
        ErrorCode.Forbidden,
        `a ${identity.kind} identity (${identity.username}) cannot ${verb} runs: a second person must`,
        { yourKind: identity.kind },
      );
    }
    if (this.isRequester(run, identity)) {
      throw new DomainError(
        ErrorCode.Forbidden,
        `a second, different person must ${verb} this run (two-person rule); ${identity.username} requested it${identity.token ? ` and acts here through the API token ${identity.token.name}` : ''}`,
        {
          requestedBy: run.requestedBy,
        },
      );
    }
    if (!mayApprove(run.requestedRole as never, identity.role)) {
      const needed = ROLES.filter((r) => mayApprove(run.requestedRole as never, r) && r !== 'admin');
      throw new DomainError(
        ErrorCode.Forbidden,
        `a request by a ${run.requestedRole} is approved or rejected by the complementary role: ${needed.join(' or ')}`,
        {
          requestedRole: run.requestedRole,
          approverRoles: needed,
          yourRole: identity.role,
        },
      );
    }
    if (run.status !== 'awaiting_approval')
      throw new DomainError(ErrorCode.Conflict, `run ${runId} is ${run.status}, not awaiting approval`, { status: run.status });
    if (run.approvalExpiresAt && run.approvalExpiresAt <= this.clock.now()) {
      await this.expire(run);
      throw new DomainError(
        ErrorCode.Conflict,
        `the approval of run ${runId} expired at ${run.approvalExpiresAt.toISOString()}; request it again`,
      );
    }
    const now = this.clock.now();
    if (!approve) {
      const updated = await this.runs.update(
        { id: run.id, status: 'awaiting_approval' },
        {
          status: 'rejected',
          approvedBy: identity.username,
          approvedById: identity.userId,
          decidedAt: now,
          finishedAt: now,
          error: `rejected by ${identity.username}`,
        },
      );
      if (updated.affected) {
        await this.steps.update({ runId: run.id, status: 'pending' }, { status: 'cancelled' });
        await this.publish(run.id, { type: 'status', status: 'rejected' });
      }
      return this.get(run.id);
    }
    const updated = await this.runs.update(
      { id: run.id, status: 'awaiting_approval' },
      { status: 'queued', approvedBy: identity.username, approvedById: identity.userId, decidedAt: now },
    );
    if (updated.affected) {
      try {
        await this.enqueue(run.id);
      } catch (error) {
        // Not queued: it awaits approval again (the approver is told with the 503).
        await this.runs
          .update({ id: run.id, status: 'queued' }, { status: 'awaiting_approval', approvedBy: null, approvedById: null, decidedAt: null })
          .catch(() => undefined);
        throw error;
      }
    }
    return this.get(run.id);
  }

  /**
   * Who may cancel: the person who requested the run (any of their identities), or anyone
   * holding the run's own level in its procedure's domain (cancelling a P1 restore is as
   * consequential as starting one). Service identities never.
   */
  private checkCancel(run: RunEntity, identity: Identity): void {
    if (identity.role !== 'service' && this.isRequester(run, identity)) return;
    const severity = run.severity as Severity;
    const domain = this.domainOf(run);
    if (identity.role !== 'service' && roleHasLevel(identity.role, severity, domain)) return;
    const level = this.inventory.escalation[severity];
    throw new DomainError(
      ErrorCode.Forbidden,
      `${identity.role === 'service' ? `the service identity ${identity.username}` : identity.role} may not cancel run ${run.id}: it is a ${severity} ${domain} run requested by ${run.requestedBy}; its requester or a role with ${severity} ${domain} rights may cancel it; escalate to ${level.contacts.join(', ')}`,
      {
        level: severity,
        domain,
        yourRole: identity.role,
        rolesWithRight: ROLES.filter((r) => roleHasLevel(r, severity, domain)),
        requestedBy: run.requestedBy,
        escalateTo: level.contacts,
        responseMinutes: level.responseMinutes,
      },
    );
  }

  /** The domain of a run's procedure (database when the procedure is no longer registered: the stricter guess for data). */
  private domainOf(run: RunEntity): 'system' | 'database' {
    try {
      return this.registry.get(run.procedureId).domain;
    } catch {
      return 'database';
    }
  }

  /**
   * A running run: its current step's signal is aborted (whichever replica executes it),
   * the rest is cancelled. A run not started yet is cancelled at once.
   */
  async cancel(runId: string, identity: Identity): Promise<RunView> {
    const run = await this.getRun(runId);
    this.checkCancel(run, identity);
    if (FINISHED.includes(run.status))
      throw new DomainError(ErrorCode.Conflict, `run ${runId} already ended (${run.status})`, { status: run.status });
    if (run.status === 'running') {
      await this.runs.update({ id: run.id }, { cancelRequested: true });
      await this.redis.publish(this.cancelChannel, run.id).catch(() => undefined);
    } else {
      const now = this.clock.now();
      const updated = await this.runs.update(
        { id: run.id, status: run.status },
        { status: 'cancelled', cancelRequested: true, finishedAt: now },
      );
      if (!updated.affected) return this.cancel(runId, identity); // it started (or ended) meanwhile
      await this.steps.update({ runId: run.id, status: 'pending' }, { status: 'cancelled' });
      await this.publish(run.id, { type: 'status', status: 'cancelled', error: null });
    }
    return this.get(run.id);
  }

  /** An awaiting run past its approval expiry: `expired`, published and audited as the system's action. */
  private async expire(run: RunEntity): Promise<boolean> {
    const now = this.clock.now();
    const error = `no approval before ${run.approvalExpiresAt?.toISOString()}`;
    const updated = await this.runs.update({ id: run.id, status: 'awaiting_approval' }, { status: 'expired', error, finishedAt: now });
    if (!updated.affected) return false;
    await this.steps.update({ runId: run.id, status: 'pending' }, { status: 'cancelled' });
    await this.publish(run.id, { type: 'status', status: 'expired', error });
    await this.audit.recordSafely({
      actor: { username: 'system', role: null },
      action: 'procedure.expire',
      target: run.id,
      parameters: { procedure: run.procedureId, requestedBy: run.requestedBy, approvalExpiresAt: run.approvalExpiresAt?.toISOString() },
      outcome: 'success',
    });
    return true;
  }

  /** Runs awaiting approval past their expiry become `expired` (periodic sweep). */
  async sweepExpired(): Promise<number> {
    const due = await this.runs.find({ where: { status: 'awaiting_approval', approvalExpiresAt: LessThanOrEqual(this.clock.now()) } });
    let expired = 0;
    for (const run of due) if (await this.expire(run)) expired++;
    return expired;
  }

  /** Ids of runs queued (or approved) more than `olderThanMs` ago that are still queued. */
  async staleQueued(olderThanMs: number): Promise<string[]> {
    const before = new Date(this.clock.now().getTime() - olderThanMs);
    const rows = await this.runs
      .createQueryBuilder('r')
      .select('r.id', 'id')
      .where("r.status = 'queued'")
      .andWhere('COALESCE(r.decided_at, r.created_at) < :before', { before })
      .orderBy('r.created_at', 'ASC')
      .limit(500)
      .getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }

  /**
   * Runs left "running" by a worker that died become `interrupted` (at start and periodically).
   * A run without its alive key is looked at again after one beat of its worker: a Redis that
   * restarted without its keys shows every live run that way until the next beat, and such a
   * run must neither be marked interrupted nor lose its locks while it runs.
   */
  async sweepInterrupted(confirmAfterMs = ALIVE_TTL_MS / 3 + 1000): Promise<number> {
    // A dry run lives inside its request; one still "running" long after has lost its process.
    const abandoned = await this.runs.update(
      { status: 'running', dryRun: true, startedAt: LessThanOrEqual(new Date(this.clock.now().getTime() - DRY_RUN_ABANDONED_MS)) },
      { status: 'interrupted', error: 'the dry run did not record its end (its process stopped)', finishedAt: this.clock.now() },
    );
    const running = await this.runs.find({ where: { status: 'running', dryRun: false } });
    const suspects: RunEntity[] = [];
    for (const run of running) {
      if (this.active.has(run.id)) continue; // executing in this process
      if (!(await this.redis.exists(`run-alive:${run.id}`))) suspects.push(run);
    }
    let swept = abandoned.affected ?? 0;
    if (!suspects.length) return swept;
    await new Promise((r) => setTimeout(r, confirmAfterMs));
    for (const run of suspects) {
      if (this.active.has(run.id) || (await this.redis.exists(`run-alive:${run.id}`))) continue;
      const updated = await this.runs.update(
        { id: run.id, status: 'running' },
        { status: 'interrupted', error: `the worker stopped during ${run.currentStep ?? 'the first step'}`, finishedAt: this.clock.now() },
      );
      if (updated.affected) {
        swept++;
        await this.steps.update({ runId: run.id, status: In(['running', 'pending']) }, { status: 'cancelled' });
        const note = await this.recover(run, 'interrupted');
        if (note)
          await this.runs.update(
            { id: run.id },
            { error: `the worker stopped during ${run.currentStep ?? 'the first step'}; ${note}`.slice(0, 2000) },
          );
        await this.locks.release(this.resourcesOf(run), run.id);
        await this.publish(run.id, {
          type: 'status',
          status: 'interrupted',
          error: `the worker stopped during ${run.currentStep ?? 'the first step'}`,
        });
      }
    }
    return swept;
  }

  /** The procedure's own clean-up for a run left half done (e.g. start a stopped backend); returns its note. */
  private async recover(run: RunEntity, why: 'interrupted' | 'cancelled'): Promise<string | null> {
    try {
      const definition = this.registry.get(run.procedureId);
      const parsed = definition.parameters.safeParse(run.parameters);
      if (!definition.onInterrupted || !parsed.success) return null;
      return await definition.onInterrupted(parsed.data, run.currentStep, this.inventory);
    } catch (error) {
      this.logger.warn(`cleaning up ${why} run ${run.id}: ${(error as Error).message}`);
      return `clean-up failed: ${(error as Error).message}`;
    }
  }

  /** The resources a stored run locks (none when its procedure or parameters are gone). */
  private resourcesOf(run: RunEntity): string[] {
    try {
      const definition = this.registry.get(run.procedureId);
      const parsed = definition.parameters.safeParse(run.parameters);
      return parsed.success ? definition.locks(parsed.data, this.inventory) : [];
    } catch {
      return [];
    }
  }

  /** The run's event feed: a snapshot, then every event until it ends (404 for an unknown run). */
  events(runId: string): Promise<RunEventFeed> {
    return this.runEvents.open(runId, () => this.get(runId));
  }

  private async getRun(id: string): Promise<RunEntity> {
    const run = await this.runs.findOne({ where: { id } });
    if (!run) throw DomainError.notFound('run', id);
    return run;
  }

  async get(id: string): Promise<RunView> {
    const run = await this.getRun(id);
    const steps = await this.steps.find({ where: { runId: id }, order: { position: 'ASC' } });
    return { ...run, steps };
  }

  async list(filter: { status?: RunStatus; procedureId?: string; limit?: number; cursor?: string }): Promise<Page<RunEntity>> {
    const size = pageSize(filter.limit);
    const qb = this.runs
      .createQueryBuilder('r')
      .orderBy('r.createdAt', 'DESC')
      .addOrderBy('r.id', 'DESC')
      .take(size + 1);
    if (filter.status) qb.andWhere('r.status = :status', { status: filter.status });
    if (filter.procedureId) qb.andWhere('r.procedure_id = :procedureId', { procedureId: filter.procedureId });
    const after = decodeCursor(filter.cursor, ['date', 'uuid']);
    if (after) qb.andWhere('(r.created_at, r.id) < (:at, :id)', { at: new Date(after[0]), id: after[1] });
    const rows = await qb.getMany();
    const items = rows.slice(0, size);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > size ? encodeCursor([last.createdAt.toISOString(), last.id]) : null };
  }

  describe(definition: ProcedureDefinition) {
    return {
      id: definition.id,
      title: definition.title,
      severity: definition.severity,
      domain: definition.domain,
      requiresApproval: definition.requiresApproval,
      confirmation: Boolean(definition.confirmation),
      parameters: parametersSchema(definition),
      levelDependsOnParameters: Boolean(definition.severityFor),
      steps: definition.steps.map((s) => ({ id: s.id, title: s.title, timeoutMs: s.timeoutMs })),
      roles: ROLES.filter((r) => roleHasLevel(r, definition.severity, definition.domain)),
    };
  }
}
