import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { SCHEDULER_IDENTITY } from '../src/common/scheduled-jobs';
import { BackupActions } from '../src/modules/backups/backup-actions';
import { ProcedureRegistry } from '../src/procedures/procedure-registry';
import { RunnerService } from '../src/procedures/runner.service';
import { waitingProcedure } from './helpers/procedure-fixtures';
import { startTestApp, TestApp } from './helpers/test-app';

/** Waiting for a run's end (backup API with wait=true, the backup schedules) listens to its events. */
describe("waiting for a run's end", () => {
  let t: TestApp;
  let actions: BackupActions;
  let runner: RunnerService;
  const request = (id: string, waitMs: number) => runner.request(id, { parameters: { waitMs } }, SCHEDULER_IDENTITY);

  before(async () => {
    t = await startTestApp();
    const registry = t.app.get(ProcedureRegistry);
    registry.register(waitingProcedure('test.wait-end'));
    registry.register(waitingProcedure('test.wait-deadline'));
    registry.register(waitingProcedure('test.wait-approval', { requiresApproval: true }));
    actions = t.app.get(BackupActions);
    runner = t.app.get(RunnerService);
  });
  after(() => t.close());

  it('answers the run as stored once it has ended, steps included', async () => {
    const run = await request('test.wait-end', 300);
    const ended = await actions.waitFor(run.id, 60);
    expect({ status: ended.status, steps: ended.steps.map((s) => [s.stepId, s.status]) }).toEqual({
      status: 'succeeded',
      steps: [
        ['one', 'succeeded'],
        ['two', 'succeeded'],
      ],
    });
    // A run that ended before the wait began is answered from its snapshot.
    expect((await actions.waitFor(run.id, 60)).status).toBe('succeeded');
  });

  it('gives up at the deadline with the run as it is, and the run goes on', async () => {
    const run = await request('test.wait-deadline', 3000);
    const early = await actions.waitFor(run.id, 0.2);
    expect(['queued', 'running']).toContain(early.status);
    expect((await actions.waitFor(run.id, 60)).status).toBe('succeeded');
  });

  it('stops at a run that awaits approval', async () => {
    const run = await request('test.wait-approval', 100);
    expect((await actions.waitFor(run.id, 60)).status).toBe('awaiting_approval');
  });
});
