import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { CronExpressionParser } from 'cron-parser';
import { dump as dumpYaml, load as loadYaml } from 'js-yaml';
import { projectRoot } from '../../src/common/paths';
import { parseInventory } from '../../src/config/inventory.loader';
import { CHECKLIST_ITEMS, itemsOf } from '../../src/modules/health/checklist';

/** The wall-clock hours (in the inventory's time zone) of the next `n` ticks after `from`. */
function ticks(pattern: string, timeZone: string, from: string, n: number): string[] {
  const expression = CronExpressionParser.parse(pattern, { tz: timeZone, currentDate: new Date(from) });
  const local = new Intl.DateTimeFormat('en-GB', { timeZone, day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return Array.from({ length: n }, () => local.format(expression.next().toDate()));
}

describe('the hourly health check', () => {
  const file = join(projectRoot(), 'ops.example.yaml');
  const example = parseInventory(readFileSync(file, 'utf8'), file, {});

  it("runs every hour of the runbook's business hours, 09:00 to 17:00, on the inventory's wall clock", () => {
    expect(example.timezone).toBe('Asia/Jakarta');
    // 2026-12-07 08:30 in Jakarta (UTC+7) is 01:30 UTC.
    expect(ticks(example.schedules.hourlyHealthCheck, example.timezone, '2026-12-07T01:30:00Z', 10)).toEqual([
      '07, 09:00',
      '07, 10:00',
      '07, 11:00',
      '07, 12:00',
      '07, 13:00',
      '07, 14:00',
      '07, 15:00',
      '07, 16:00',
      '07, 17:00',
      '08, 09:00',
    ]);
  });

  it('defaults to business hours when the inventory names no schedule, and refuses a pattern that is not cron', () => {
    const doc = loadYaml(readFileSync(file, 'utf8')) as Record<string, any>;
    delete doc.schedules.hourlyHealthCheck;
    expect(parseInventory(dumpYaml(doc), file, {}).schedules.hourlyHealthCheck).toBe('0 9-17 * * *');
    doc.schedules.hourlyHealthCheck = 'every hour';
    expect(() => parseInventory(dumpYaml(doc), file, {})).toThrow(/schedules\.hourlyHealthCheck/);
  });

  it('checks the services and the key metrics only; the daily checklist checks every item', () => {
    expect(itemsOf('hourly').map((i) => i.id)).toEqual(['services', 'metrics']);
    expect(itemsOf('checklist')).toEqual(CHECKLIST_ITEMS);
  });
});
