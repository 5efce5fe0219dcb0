/**
 * alerts.storm's pure parts and its silence plan, called alone with a StepContext: the
 * silence's window comes from the context's clock, its author from the context's requester.
 */
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { AmAlert } from '../../src/integrations/contracts';
import {
  durationMinutes,
  durationText,
  groupAlerts,
  silenceStep,
  stormParameters,
  stormSeverity,
} from '../../src/modules/remediations/procedures/alerts-storm';
import { exampleInventory, stepContext } from '../helpers/step-context';

const inventory = exampleInventory();

const alert = (fingerprint: string, alertname: string, state = 'active'): AmAlert =>
  ({ fingerprint, labels: { alertname }, status: { state, silencedBy: [], inhibitedBy: [] } }) as unknown as AmAlert;

describe('alerts.storm steps', () => {
  it('plans the silence with the requester as author, the window from the clock, and the run in the comment', async () => {
    const params = stormParameters.parse({ matchers: [{ name: 'alertname', value: 'HighCPUUsage' }], duration: '1h30m' });
    const ctx = stepContext(params, {
      inventory,
      now: new Date('2026-03-02T08:00:00Z'),
      requester: { username: 'dina', userId: null, role: 'senior' },
    });
    const plan = await silenceStep({ inventory, alertmanager: undefined as never, silences: undefined as never }).plan(ctx);
    expect(plan).toEqual({
      action: 'POST http://localhost:9093/api/v2/silences',
      matchers: ['alertname="HighCPUUsage"'],
      startsAt: '2026-03-02T08:00:00.000Z',
      endsAt: '2026-03-02T09:30:00.000Z',
      duration: '1h30m',
      createdBy: 'dina',
      comment: `erp-ops run ${ctx.runId}: alert storm: alertname="HighCPUUsage" silenced for 1h30m`,
      level: 'P2',
      refusedBecause: null,
    });
  });

  it('names why Alertmanager would refuse matchers that all match the empty string', async () => {
    const params = stormParameters.parse({ matchers: [{ name: 'alertname', value: '.*', isRegex: true }], duration: 10 });
    const plan = await silenceStep({ inventory, alertmanager: undefined as never, silences: undefined as never }).plan(
      stepContext(params, { inventory }),
    );
    expect(plan.level).toBe('P1');
    expect(plan.refusedBecause).toMatch(/every matcher matches the empty string/);
  });

  it('levels: up to 30 minutes P3, longer P2, matchers selecting everything P1', () => {
    const only = [{ name: 'alertname', value: 'DiskFull', isRegex: false, isEqual: true }];
    expect(stormSeverity({ matchers: only, duration: '30m' })).toBe('P3');
    expect(stormSeverity({ matchers: only, duration: 31 })).toBe('P2');
    expect(stormSeverity({ matchers: [], duration: '5m' })).toBe('P1');
  });

  it('reads durations in minutes and writes them back the same way', () => {
    expect(durationMinutes('1h30m')).toBe(90);
    expect(durationMinutes('1d')).toBe(1440);
    expect(durationMinutes('0')).toBeNull();
    expect(durationMinutes('2x')).toBeNull();
    expect(durationText(90)).toBe('1h30m');
    expect(durationText(120)).toBe('2h');
    expect(durationText(45)).toBe('45m');
  });

  it('groups firing alerts by alertname, largest group first, counting the matched ones', () => {
    const all = [alert('a', 'HighCPU'), alert('b', 'HighCPU', 'suppressed'), alert('c', 'DiskFull'), alert('d', 'HighCPU')];
    expect(groupAlerts(all, [all[0], all[1]])).toEqual([
      { alertname: 'HighCPU', count: 3, active: 2, matched: 2 },
      { alertname: 'DiskFull', count: 1, active: 1, matched: 0 },
    ]);
  });
});
