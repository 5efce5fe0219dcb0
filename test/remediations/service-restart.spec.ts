/**
 * service.restart on the stand-in stack: one stopped service (Kibana) is restarted alone and
 * watched until it stays up; one that crashes on start ends escalated with its log lines; the
 * level follows the inventory's critical flag; the checklist suggests it for one service down.
 */
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { Role } from '../../src/common/rights';
import { TestApp } from '../helpers/test-app';
import { RemediationHarness, startRemediationHarness } from './remediation-harness';
import { inspect, PORTS, restoreService, setFaultFile, waitFor } from '../stack/stack-helpers';

describe('service.restart: one service, alone', { concurrency: false }, () => {
  let h: RemediationHarness;
  let t: TestApp;

  before(async () => {
    h = await startRemediationHarness({
      roles: [
        ['viewer', Role.Viewer],
        ['operator', Role.Operator],
        ['senior', Role.SeniorDev],
      ],
    });
    ({ t } = h);
  });
  after(async () => {
    setFaultFile('kibana', {});
    execFileSync('docker', ['start', 'erp-kibana']);
    await restoreService('kibana', PORTS.kibana, '/api/status');
    await h?.close();
  });

  const state = async () => (await inspect('erp-kibana')).State.Status as string;

  it('is P3 for a non-critical service and P2 for a critical one; an unknown service is a 400 naming the choices', async () => {
    const listed = (await h.get('/api/v1/procedures')).body.find((p: any) => p.id === 'service.restart');
    expect(listed).toMatchObject({ severity: 'P3', levelDependsOnParameters: true });
    expect(listed.parameters.properties.service.enum).toContain('kibana');
    expect((await h.request('service.restart', { dryRun: true, parameters: { service: 'kibana' } }, 'viewer')).status).toBe(403);
    expect((await h.request('service.restart', { dryRun: true, parameters: { service: 'kibana' } }, 'operator')).status).toBe(201);
    const redis = await h.request('service.restart', { dryRun: true, parameters: { service: 'redis' } }, 'operator');
    expect(redis.status).toBe(403);
    expect(redis.body.message).toMatch(/P2/);
    expect((await h.request('service.restart', { dryRun: true, parameters: { service: 'redis' } }, 'senior')).status).toBe(201);
    const unknown = await h.request('service.restart', { parameters: { service: 'mysql' } }, 'senior');
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/service: must be a service of the inventory: postgres, redis, backend/);
    const runs = (await h.get('/api/v1/runs?procedure=service.restart&limit=100')).body.items;
    expect(runs.every((r: any) => r.dryRun)).toBe(true);
  });

  it('a stopped Kibana: the checklist suggests service.restart, a dry run changes nothing, a run brings it back', async () => {
    execFileSync('docker', ['stop', '-t', '1', 'erp-kibana']);
    const checklist = await t.http().post('/api/v1/checklists?kind=hourly').set('Authorization', h.as('operator'));
    const services = checklist.body.items.find((i: any) => i.item === 'services');
    expect(services).toMatchObject({ verdict: 'fail', remediation: 'service.restart' });
    // Kibana is non-critical: a P3 matter for Support, not the P1 "System down" of the item.
    expect(services.escalation).toEqual({ severity: 'P3', contacts: ['Support'], responseMinutes: 30 });
    const dry = await h.request('service.restart', { dryRun: true, parameters: { service: 'kibana' } }, 'operator');
    expect(dry.body.status).toBe('succeeded');
    expect(h.step(dry.body, 'inspect').plan).toMatchObject({ container: 'erp-kibana', state: 'exited', critical: false });
    expect(h.step(dry.body, 'restart').status).toBe('planned');
    expect(await state()).toBe('exited');
    const res = await h.request('service.restart', { parameters: { service: 'kibana', deadlineSeconds: 60 } }, 'operator');
    expect(res.status).toBe(201);
    const run = await h.until(res.body.id, ['succeeded', 'failed', 'escalated']);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    expect(h.step(run, 'watch').output).toMatchObject({ container: 'erp-kibana', state: 'running' });
    expect(await state()).toBe('running');
  });

  it('a Kibana that crashes on start ends escalated (P2) with its last log lines', async () => {
    setFaultFile('kibana', { crashOnStart: true });
    const res = await h.request('service.restart', { parameters: { service: 'kibana', deadlineSeconds: 10 } }, 'operator');
    const run = await h.until(res.body.id, ['succeeded', 'failed', 'escalated']);
    expect(run.status).toBe('escalated');
    expect(run.error).toMatch(/erp-kibana did not come back/);
    expect(run.error).toMatch(/\(P2, 15 min\)/);
    const watch = h.step(run, 'watch').output;
    expect(watch.logs.join('\n')).toMatch(/crash-on-start/);
    setFaultFile('kibana', {});
    const again = await h.request('service.restart', { parameters: { service: 'kibana', deadlineSeconds: 60 } }, 'operator');
    expect((await h.until(again.body.id, ['succeeded', 'failed', 'escalated'])).status).toBe('succeeded');
    await waitFor('erp-kibana running', async () => (await state()) === 'running', 30_000);
  });
});
