import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Clock } from '../../../common/clock';
import { DomainError, ErrorCode } from '../../../common/errors';
import { decodeCursor, encodeCursor, Page, pageSize } from '../../../common/pagination';
import { INVENTORY } from '../../../config/config.module';
import { Inventory } from '../../../config/inventory.schema';
import { DockerPort, HostResourcesPort, PrometheusPort, TargetDatabasePort, TimeWindow } from '../../../integrations/contracts';
import { DOCKER, HOST_RESOURCES, PROMETHEUS, TARGET_DB } from '../../../integrations/integrations.module';
import { worst } from '../../health/public';
import { apiPerformance, databaseHealth, qt09Protocol, qualityControl, ReviewInputs, systemOverview } from './review-dashboards';
import { localDate, nextDate, startOfLocalDay } from './review-time';
import { DailyReviewEntity } from './review.entity';
import { DailyReviewModel } from './reviews.dto';

const DAY_MS = 86_400_000;
/** Per call to a system (Prometheus query, database read, docker stats). */
const CALL_TIMEOUT_MS = 5000;

/**
 * The Daily Performance Review (runbook, 08:00): the five dashboards as one document, each
 * metric with its target and verdict. Reads only; stores each review (history).
 */
@Injectable()
export class ReviewService {
  constructor(
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(DOCKER) private readonly docker: DockerPort,
    @Inject(TARGET_DB) private readonly db: TargetDatabasePort,
    @Inject(PROMETHEUS) private readonly prometheus: PrometheusPort,
    @Inject(HOST_RESOURCES) private readonly host: HostResourcesPort,
    @InjectRepository(DailyReviewEntity) private readonly reviews: Repository<DailyReviewEntity>,
    private readonly clock: Clock,
  ) {}

  /**
   * Generates and stores a review. Without a date (or today's): the 24 hours up to now (the
   * schedule: up to its tick). A past date: that local calendar day, without the readings
   * of the present (containers, connections, disk), which are `unknown` then.
   */
  async generate(
    trigger: 'manual' | 'schedule',
    requestedBy: string | null,
    options: { date?: string; scheduledFor?: Date } = {},
  ): Promise<DailyReviewEntity> {
    const tz = this.inventory.timezone;
    const started = this.clock.now();
    const at = options.scheduledFor ?? started;
    const today = localDate(at, tz);
    if (options.date && options.date > today)
      throw DomainError.validation([{ field: 'date', problem: `must not be after today (${today} in ${tz})` }]);
    const current = !options.date || options.date === today;
    const date = options.date ?? today;
    const window: TimeWindow = current
      ? { from: new Date(at.getTime() - DAY_MS), to: at }
      : { from: startOfLocalDay(date, tz), to: startOfLocalDay(nextDate(date), tz) };
    const input: ReviewInputs = {
      inventory: this.inventory,
      prometheus: this.prometheus,
      docker: this.docker,
      host: this.host,
      db: this.db,
      window,
      current,
      previousActivity: current ? await this.previousActivity() : undefined,
      timeoutMs: CALL_TIMEOUT_MS,
    };
    const [system, api, database, qt09, qc] = await Promise.all([
      systemOverview(input),
      apiPerformance(input),
      databaseHealth(input),
      qt09Protocol(input),
      qualityControl(input),
    ]);
    const dashboards = [system, api, database.dashboard, qt09, qc];
    const generatedAt = this.clock.now();
    const review = this.reviews.create({
      id: randomUUID(),
      date,
      timezone: tz,
      windowStart: window.from,
      windowEnd: window.to,
      generatedAt,
      durationMs: generatedAt.getTime() - started.getTime(),
      trigger,
      requestedBy,
      scheduledFor: options.scheduledFor ?? null,
      verdict: worst(dashboards.map((d) => d.verdict)),
      dashboards,
    });
    await this.reviews.insert(review as never);
    return review;
  }

  /** The transaction counters the latest review read (the next one measures the day from them). */
  private async previousActivity(): Promise<ReviewInputs['previousActivity']> {
    const last = await this.reviews.findOne({ where: {}, order: { generatedAt: 'DESC' } });
    const counters = last?.dashboards.find((d) => d.dashboard === 'database-health')?.metrics.find((m) => m.metric === 'transaction-rate')
      ?.details?.counters as ReviewInputs['previousActivity'];
    return counters && typeof counters.commits === 'number' ? counters : undefined;
  }

  /** The latest review, or the latest of a local date. */
  async latest(date?: string): Promise<DailyReviewEntity> {
    const review = await this.reviews.findOne({ where: date ? { date } : {}, order: { generatedAt: 'DESC' } });
    if (!review) {
      throw new DomainError(
        ErrorCode.NotFound,
        date
          ? `no daily review of ${date}: POST /api/v1/reviews/daily generates one`
          : 'no daily review yet: POST /api/v1/reviews/daily generates one',
        { what: 'daily review', ...(date ? { date } : {}) },
      );
    }
    return review;
  }

  async lastGeneratedAt(): Promise<Date | null> {
    const last = await this.reviews.findOne({ where: {}, order: { generatedAt: 'DESC' }, select: { id: true, generatedAt: true } });
    return last?.generatedAt ?? null;
  }

  /** Stored reviews, newest first. */
  async list(query: { limit?: number; cursor?: string }): Promise<Page<DailyReviewEntity>> {
    const size = pageSize(query.limit);
    const qb = this.reviews
      .createQueryBuilder('r')
      .orderBy('r.generatedAt', 'DESC')
      .addOrderBy('r.id', 'DESC')
      .take(size + 1);
    const after = decodeCursor(query.cursor, ['date', 'uuid']);
    if (after) qb.andWhere('(r.generated_at, r.id) < (:at, :id)', { at: new Date(String(after[0])), id: String(after[1]) });
    const rows = await qb.getMany();
    const items = rows.slice(0, size);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > size ? encodeCursor([last.generatedAt.toISOString(), last.id]) : null };
  }

  static toModel(r: DailyReviewEntity): DailyReviewModel {
    return {
      id: r.id,
      date: r.date,
      timezone: r.timezone,
      window: { from: r.windowStart, to: r.windowEnd },
      generatedAt: r.generatedAt,
      durationMs: r.durationMs,
      trigger: r.trigger,
      requestedBy: r.requestedBy,
      scheduledFor: r.scheduledFor,
      verdict: r.verdict,
      dashboards: r.dashboards,
    };
  }
}
