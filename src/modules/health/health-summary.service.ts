import { Inject, Injectable } from '@nestjs/common';
import { CronExpressionParser } from 'cron-parser';
import { Clock } from '../../common/clock';
import { INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { Verdict } from './check';
import { ChecklistService } from './checklist.service';
import { HealthSummaryModel } from './health.dto';

const MARK: Record<Verdict, string> = { pass: '✓', warn: '!', unknown: '?', fail: '✗' };

/** The health summary: the latest run, one line per service, check and metric; stale when old. */
@Injectable()
export class HealthSummaryService {
  constructor(
    private readonly checklist: ChecklistService,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    private readonly clock: Clock,
  ) {}

  /** The schedule's interval: a run older than this is stale. */
  staleAfterSeconds(): number {
    const expression = CronExpressionParser.parse(this.inventory.schedules.dailyChecklist, {
      tz: this.inventory.timezone,
      currentDate: this.clock.now(),
    });
    const first = expression.next().getTime();
    const second = expression.next().getTime();
    return Math.round((second - first) / 1000);
  }

  async summary(): Promise<HealthSummaryModel> {
    const run = await this.checklist.latest();
    const staleAfterSeconds = this.staleAfterSeconds();
    if (!run)
      return { verdict: 'unknown', runId: null, checkedAt: null, ageSeconds: null, stale: true, staleAfterSeconds, items: [], lines: [] };
    const ageSeconds = Math.max(0, Math.round((this.clock.now().getTime() - run.finishedAt.getTime()) / 1000));
    return {
      verdict: run.verdict,
      runId: run.id,
      checkedAt: run.finishedAt,
      ageSeconds,
      stale: ageSeconds > staleAfterSeconds,
      staleAfterSeconds,
      items: run.items,
      lines: run.items.flatMap((item) =>
        item.checks.map((c) => ({
          item: item.item,
          check: c.check,
          title: c.title,
          verdict: c.verdict,
          observed: c.observed,
          expected: c.expected,
        })),
      ),
    };
  }

  /** For a terminal: the runbook's checklist with ✓ / ✗ marks. */
  async text(): Promise<string> {
    const s = await this.summary();
    if (!s.runId) return 'Daily Startup Checklist: no run yet (POST /api/v1/checklists runs one now)\n';
    const when = new Intl.DateTimeFormat('sv-SE', { timeZone: this.inventory.timezone, dateStyle: 'short', timeStyle: 'short' }).format(
      s.checkedAt!,
    );
    const out = [
      `Daily Startup Checklist, ${when} ${this.inventory.timezone} (${s.ageSeconds} s ago${s.stale ? ', STALE' : ''}): ${s.verdict.toUpperCase()}`,
      '',
    ];
    for (const item of s.items) {
      out.push(`- [${MARK[item.verdict as Verdict]}] ${item.title}`);
      for (const check of item.checks) {
        if (check.verdict === 'pass' && item.verdict === 'pass') continue;
        out.push(`      ${MARK[check.verdict as Verdict]} ${check.title}: ${check.observed} (expected ${check.expected})`);
      }
      if (item.verdict !== 'pass') {
        if (item.nextStep) out.push(`      → ${item.nextStep}`);
        if (item.escalation)
          out.push(
            `      → escalate ${item.escalation.severity}${item.escalation.situation ? ` (${item.escalation.situation})` : ''} within ${item.escalation.responseMinutes} min: ${item.escalation.contacts.join(', ')}`,
          );
      }
    }
    out.push('', 'If any item fails: see "Common Issues & Resolution".');
    return `${out.join('\n')}\n`;
  }
}
