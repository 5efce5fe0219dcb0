import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import Redis from 'ioredis';
import { Repository } from 'typeorm';
import { Clock } from '../../common/clock';
import { DomainError } from '../../common/errors';
import { decodeCursor, encodeCursor, Page, pageSize } from '../../common/pagination';
import { INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { escalationOf } from '../../config/escalation';
import { OPS_REDIS } from '../../infra/redis/redis.module';
import { BackupService } from '../backups/backup.service';
import {
  DockerPort,
  ElasticsearchPort,
  HostResourcesPort,
  HttpProbePort,
  PrometheusPort,
  TargetDatabasePort,
  TargetRedisPort,
} from '../../integrations/contracts';
import {
  DOCKER,
  ELASTICSEARCH,
  HOST_RESOURCES,
  HTTP_PROBE,
  PROMETHEUS,
  TARGET_DB,
  TARGET_REDIS,
} from '../../integrations/integrations.module';
import { CheckDefinition, CheckResult, Verdict, worst } from './check';
import { CHECK_SITUATIONS, ChecklistItemResult, ChecklistKind, itemsOf } from './checklist';
import { ChecklistRunEntity } from './checklist-run.entity';
import { backupChecks } from './checks/backup-checks';
import { databaseChecks } from './checks/database-checks';
import { apiChecks, apiLatencyCheck, grafanaChecks, logPipelineChecks, prometheusChecks } from './checks/endpoint-checks';
import { hostIdentityCheck } from './checks/host-identity-check';
import { logChecks } from './checks/log-checks';
import { metricChecks } from './checks/metric-checks';
import { redisPingCheck } from './checks/redis-ping-check';
import { serviceChecks } from './checks/service-checks';
import { LogsFlowStore } from './logs-flow.store';
import { onlyNonCriticalDown, suggestionFor } from './service-suggestion';
import { StatsSampler } from './stats-sampler';

/** Time kept back from the deadline for assembling and storing the run. */
const ASSEMBLY_MARGIN_MS = 60;
/** The latest run of each kind, shared by the replicas. */
const LATEST_KEY: Record<ChecklistKind, string> = { checklist: 'health:latest', hourly: 'health:latest:hourly' };

export interface ChecklistFilter {
  kind?: ChecklistKind;
  from?: Date;
  to?: Date;
  verdict?: Verdict;
  limit?: number;
  cursor?: string;
}

/**
 * The daily startup checklist: every item's checks run concurrently under one deadline; a
 * check that does not finish in time becomes `unknown: timed out after …`. Runs are stored
 * (history) and the latest is kept in Redis for fast reads.
 */
@Injectable()
export class ChecklistService {
  private readonly logger = new Logger(ChecklistService.name);

  constructor(
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(OPS_REDIS) private readonly redis: Redis,
    @Inject(DOCKER) private readonly docker: DockerPort,
    @Inject(TARGET_DB) private readonly db: TargetDatabasePort,
    @Inject(TARGET_REDIS) private readonly erpRedis: TargetRedisPort,
    @Inject(HTTP_PROBE) private readonly http: HttpProbePort,
    @Inject(PROMETHEUS) private readonly prometheus: PrometheusPort,
    @Inject(ELASTICSEARCH) private readonly es: ElasticsearchPort,
    @Inject(HOST_RESOURCES) private readonly host: HostResourcesPort,
    @InjectRepository(ChecklistRunEntity) private readonly runs: Repository<ChecklistRunEntity>,
    private readonly flow: LogsFlowStore,
    private readonly sampler: StatsSampler,
    private readonly clock: Clock,
    private readonly backups: BackupService,
  ) {}

  /** The checks behind each checklist item. */
  private definitions(since?: Date): Record<string, CheckDefinition[]> {
    const inv = this.inventory;
    const now = () => this.clock.now();
    return {
      services: [hostIdentityCheck(inv, this.docker), serviceChecks(inv, this.docker)],
      logs: logChecks(inv, this.docker, now, since),
      database: [...databaseChecks(inv, this.db), redisPingCheck(inv, this.erpRedis)],
      api: apiChecks(inv, this.http),
      prometheus: prometheusChecks(inv, this.prometheus, this.http, since),
      grafana: grafanaChecks(inv, this.http),
      kibana: logPipelineChecks(inv, this.http, this.es, this.flow),
      backups: backupChecks(inv, () => this.backups.freshness(), now),
      metrics: [
        ...metricChecks(inv, {
          prometheus: this.prometheus,
          docker: this.docker,
          redis: this.erpRedis,
          host: this.host,
          cached: (c) => this.sampler.latest(c),
        }),
        apiLatencyCheck(inv, this.http),
      ],
    };
  }

  /** Runs one check with its own timeout, capped by the checklist deadline; never throws. */
  private async runCheck(def: CheckDefinition, deadlineAt: number, spent: { ms: number }): Promise<CheckResult[]> {
    const results = await this.runCheckTimed(def, deadlineAt);
    spent.ms += results[0]?.durationMs ?? 0;
    return results;
  }

  private async runCheckTimed(def: CheckDefinition, deadlineAt: number): Promise<CheckResult[]> {
    const started = performance.now();
    const timeoutMs = Math.max(1, Math.min(def.timeoutMs, deadlineAt - ASSEMBLY_MARGIN_MS - Date.now()));
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const outcome = await Promise.race([def.run({ timeoutMs, signal: controller.signal }), timedOut]);
      const durationMs = Math.round(performance.now() - started);
      if (outcome === 'timeout') {
        controller.abort();
        return [
          {
            check: def.id,
            title: def.title,
            verdict: 'unknown',
            observed: `timed out after ${timeoutMs} ms`,
            expected: `an answer within ${timeoutMs} ms`,
            durationMs,
          },
        ];
      }
      return outcome.map((r) => ({ ...r, durationMs }));
    } catch (error) {
      return [
        {
          check: def.id,
          title: def.title,
          verdict: 'unknown',
          observed: `check failed: ${(error as Error).message}`.slice(0, 300),
          expected: 'the check to complete',
          durationMs: Math.round(performance.now() - started),
        },
      ];
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * `options.since` (a smoke test after a recovery): log lines from before it do not count, and a
   * Prometheus target not scraped since then is pending (warn), not down. `options.skip`: items
   * left out of this run (a recovery's smoke test is about the stack, not the backups).
   */
  async run(
    trigger: 'manual' | 'schedule',
    requestedBy: string | null,
    scheduledFor: Date | null = null,
    options: { since?: Date; kind?: ChecklistKind; skip?: string[] } = {},
  ): Promise<ChecklistRunEntity> {
    const kind = options.kind ?? 'checklist';
    const deadlineMs = this.inventory.schedules.checklistDeadlineMs;
    const startedAt = this.clock.now();
    const deadlineAt = Date.now() + deadlineMs;
    const definitions = this.definitions(options.since);
    const spent = { ms: 0 };
    const items = await Promise.all(
      itemsOf(kind)
        .filter((item) => !options.skip?.includes(item.id))
        .map(async (item): Promise<ChecklistItemResult> => {
          const results = (await Promise.all((definitions[item.id] ?? []).map((def) => this.runCheck(def, deadlineAt, spent)))).flat();
          const failing = results.filter((c) => c.verdict !== 'pass');
          const checks = results.map((c) => {
            const remediation = c.verdict === 'pass' ? undefined : suggestionFor(c, failing, this.inventory);
            return remediation ? { ...c, remediation } : c;
          });
          const verdict = worst(checks.map((c) => c.verdict));
          if (verdict === 'pass') return { item: item.id, title: item.title, verdict, checks };
          // Only non-critical services down (say Kibana): P3, not the P1 "System down" of the item.
          const minor = item.id === 'services' && onlyNonCriticalDown(failing, this.inventory);
          const severity = minor ? 'P3' : item.severity;
          const situation = minor
            ? undefined
            : (checks.map((c) => (c.verdict === 'fail' ? CHECK_SITUATIONS[c.check] : undefined)).find(Boolean) ?? item.situation);
          const level = escalationOf(this.inventory, severity, situation);
          const remediation = checks.find((c) => c.verdict !== 'pass' && c.remediation)?.remediation;
          return {
            item: item.id,
            title: item.title,
            verdict,
            checks,
            nextStep: checks.find((c) => c.verdict !== 'pass' && c.nextStep)?.nextStep ?? 'see Common Issues & Resolution',
            ...(remediation ? { remediation } : {}),
            escalation: {
              severity,
              ...(level.situation ? { situation: level.situation } : {}),
              contacts: level.contacts,
              responseMinutes: level.responseMinutes,
            },
          };
        }),
    );
    const finishedAt = this.clock.now();
    const run = this.runs.create({
      id: randomUUID(),
      startedAt,
      finishedAt,
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      deadlineMs,
      checksDurationMs: spent.ms,
      trigger,
      kind,
      requestedBy,
      scheduledFor,
      verdict: worst(items.map((i) => i.verdict)),
      items,
    });
    await this.runs.insert(run as never);
    await this.redis
      .set(LATEST_KEY[kind], JSON.stringify(run))
      .catch((error: Error) => this.logger.warn(`latest checklist not cached: ${error.message}`));
    return run;
  }

  /** The latest run of a kind (the daily checklist unless told): from Redis, else from the database. */
  async latest(kind: ChecklistKind = 'checklist'): Promise<ChecklistRunEntity | null> {
    const cached = await this.redis.get(LATEST_KEY[kind]).catch(() => null);
    if (cached) {
      const run = JSON.parse(cached) as ChecklistRunEntity;
      return {
        ...run,
        kind: run.kind ?? kind,
        startedAt: new Date(run.startedAt),
        finishedAt: new Date(run.finishedAt),
        scheduledFor: run.scheduledFor ? new Date(run.scheduledFor) : null,
      };
    }
    return this.runs.findOne({ where: { kind }, order: { startedAt: 'DESC' } });
  }

  async get(id: string): Promise<ChecklistRunEntity> {
    const run = await this.runs.findOne({ where: { id } });
    if (!run) throw DomainError.notFound('checklist run', id);
    return run;
  }

  async list(filter: ChecklistFilter): Promise<Page<ChecklistRunEntity>> {
    const size = pageSize(filter.limit);
    const qb = this.runs
      .createQueryBuilder('r')
      .orderBy('r.startedAt', 'DESC')
      .addOrderBy('r.id', 'DESC')
      .take(size + 1);
    if (filter.from) qb.andWhere('r.started_at >= :from', { from: filter.from });
    if (filter.to) qb.andWhere('r.started_at < :to', { to: filter.to });
    if (filter.verdict) qb.andWhere('r.verdict = :verdict', { verdict: filter.verdict });
    if (filter.kind) qb.andWhere('r.kind = :kind', { kind: filter.kind });
    const after = decodeCursor(filter.cursor, ['date', 'uuid']);
    if (after) qb.andWhere('(r.started_at, r.id) < (:at, :id)', { at: new Date(String(after[0])), id: String(after[1]) });
    const rows = await qb.getMany();
    const items = rows.slice(0, size);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > size ? encodeCursor([last.startedAt.toISOString(), last.id]) : null };
  }
}
