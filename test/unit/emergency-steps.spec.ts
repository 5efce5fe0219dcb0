/**
 * The emergency procedures' steps called alone with a StepContext: the outage's plans, its
 * recovery time taken from earlier steps, its timeline and report; the data-corruption steps
 * that decide from the context alone.
 */
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { NotificationMessage, NotifierPort } from '../../src/integrations/contracts';
import { corruptionParameters, restoreStep, unpauseStep } from '../../src/modules/remediations/procedures/emergency-data-corruption';
import {
  outageMinutes,
  outageParameters,
  outageTimeline,
  recoveredAt,
  recreateStep,
  reportStep,
  restartStep,
} from '../../src/modules/remediations/procedures/emergency-outage';
import { EarlierStep } from '../../src/procedures/procedure';
import { exampleInventory, stepContext } from '../helpers/step-context';

const inventory = exampleInventory();
const at = (iso: string) => new Date(`2026-03-02T${iso}Z`);

/** A notifier that records what it was asked to send (every channel delivered). */
function recordingNotifier(): NotifierPort & { sent: NotificationMessage[] } {
  const sent: NotificationMessage[] = [];
  return {
    sent,
    send: async (message) => {
      sent.push(message);
      return [{ channel: 'chat', target: 'test', delivered: true, attempts: 1, ms: 0 }];
    },
  };
}

/** Only the adapters a step under test uses are given; the others must not be reached. */
const unused = undefined as never;

describe('emergency.outage steps', () => {
  const params = outageParameters.parse({ restartSeconds: 90 });

  it('plans the restart tier by tier (database and cache first) with its deadline, or nothing when recreating at once', async () => {
    const step = restartStep({ inventory, docker: unused });
    const plan = await step.plan(stepContext(params, { inventory }));
    expect(plan.deadlineSeconds).toBe(90);
    expect((plan.restart as string[][])[0]).toEqual(['erp-postgres', 'erp-redis', 'erp-elasticsearch']);
    expect((plan.restart as string[][]).at(-1)).toEqual(['erp-nginx']);
    const recreating = await step.plan(stepContext(outageParameters.parse({ recreate: true }), { inventory }));
    expect(recreating.restart).toEqual([]);
    expect(recreating.deadlineSeconds).toBe(inventory.remediations.outageRestartSeconds);
  });

  it('does not recreate when the restart step reports that everything came back', async () => {
    const step = recreateStep({ inventory, docker: unused, notifier: unused, checklist: unused, host: unused });
    const output = await step.run(stepContext(params, { inventory, outputs: { restart: { recovered: true, down: [], errors: [] } } }));
    expect(output).toEqual({ recreated: false, reason: 'every service came back with the restart' });
  });

  it('takes the recovery time from the step that brought the services back', () => {
    const step = (id: string, output: Record<string, unknown>, finishedAt: string): EarlierStep => ({
      id,
      title: id,
      startedAt: at('08:00:00'),
      finishedAt: at(finishedAt),
      output,
    });
    expect(recoveredAt({ earlier: [] })).toBeUndefined();
    const restarted = step('restart', { recovered: true }, '08:02:00');
    expect(recoveredAt({ earlier: [restarted, step('recreate', { recreated: false }, '08:02:01')] })).toEqual(at('08:02:00'));
    const failed = step('restart', { recovered: false }, '08:03:00');
    expect(recoveredAt({ earlier: [failed, step('recreate', { recreated: true }, '08:07:30')] })).toEqual(at('08:07:30'));
    expect(recoveredAt({ earlier: [failed] })).toBeUndefined();
  });

  it('reports the timeline of the earlier steps and the minutes since the run was notified', async () => {
    const notifier = recordingNotifier();
    const ctx = stepContext(params, {
      inventory,
      now: at('08:30:00'),
      outputs: { notify: {}, diagnose: {}, restart: { recovered: true } },
    });
    // stepContext starts and ends every earlier step at `now`; the run started 12 minutes before.
    const earlier = ctx.earlier.map((s) => (s.id === 'notify' ? { ...s, startedAt: at('08:18:00') } : s));
    const output = await reportStep({ inventory, notifier }).run({ ...ctx, earlier });
    expect(output.recoveredInMinutes).toBe(12);
    expect((output.timeline as { step: string }[]).map((s) => s.step)).toEqual(['notify', 'diagnose', 'restart', 'report']);
    expect(output.allDelivered).toBe(true);
    // 08:30 UTC is 15:30 in Asia/Jakarta (the example inventory's time zone).
    expect(notifier.sent[0].subject).toBe('ERP system recovered at 15:30');
    expect(notifier.sent[0].text).toContain('after 12 min');
    expect(notifier.sent[0].text).toContain(ctx.runId);
  });

  it('builds the timeline with the report itself running, and no minutes without a notify step', () => {
    const now = at('09:00:00');
    const earlier: EarlierStep[] = [{ id: 'diagnose', title: 'd', startedAt: at('08:59:00'), finishedAt: at('08:59:30'), output: {} }];
    expect(outageTimeline(earlier, now)).toEqual([
      { step: 'diagnose', status: 'succeeded', startedAt: '2026-03-02T08:59:00.000Z', finishedAt: '2026-03-02T08:59:30.000Z' },
      { step: 'report', status: 'running', startedAt: '2026-03-02T09:00:00.000Z', finishedAt: null },
    ]);
    expect(outageMinutes(earlier, now)).toBeNull();
  });

  it('refuses seconds outside 5–3600 with the shared wording', () => {
    const result = outageParameters.safeParse({ recoverySeconds: 4 });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0].message).toBe('must be a whole number of seconds from 5 to 3600, for example 120');
  });
});

describe('emergency.data-corruption steps', () => {
  const deps = { inventory, docker: unused, targetDb: unused, backups: unused, checklist: unused, notifier: unused };

  it('checks only, touching nothing, when no backup was chosen', async () => {
    const output = await restoreStep(deps).run(stepContext(corruptionParameters.parse({}), { inventory }));
    expect(output).toEqual({ restore: false, reason: 'no restoreBackupId: checks only' });
    expect(await restoreStep(deps).plan(stepContext(corruptionParameters.parse({}), { inventory }))).toEqual({ restore: false });
  });

  it('plans to unpause the inventory backend', async () => {
    const plan = await unpauseStep(deps).plan(stepContext(corruptionParameters.parse({}), { inventory }));
    expect(plan).toEqual({ container: 'erp-backend', action: 'docker unpause' });
  });
});
