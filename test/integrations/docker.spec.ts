/**
 * DockerEngine against the real engine and the stand-in stack's ten erp-* containers.
 */
import { before, describe, it } from 'node:test';
import { expect } from 'expect';
import { DockerEngine, demuxLogLines } from '../../src/integrations/docker/docker-engine';
import { docker, inspect, waitFor } from '../stack/stack-helpers';
import { failure, stackInventory, timesOut } from './helpers';

const inventory = stackInventory();
const T = { timeoutMs: 5000 };

describe('DockerEngine', () => {
  let engine: DockerEngine;

  before(() => {
    engine = new DockerEngine(inventory.stack.dockerHost);
  });

  it('pings the engine: Docker 20.10, API 1.41', async () => {
    const v = await engine.ping(T);
    expect(v.version).toMatch(/^20\.10\./);
    expect(v.apiVersion).toBe('1.41');
  });

  it("lists the compose project's ten containers with state and health (none without a healthcheck)", async () => {
    const list = await engine.listProjectContainers(inventory.stack.composeProject, T);
    const expected = inventory.stack.services.map((s) => s.container).sort();
    expect(list.map((c) => c.name)).toEqual(expected);
    for (const service of inventory.stack.services) {
      const c = list.find((x) => x.name === service.container)!;
      expect(c.service).toBe(service.name);
      expect(c.oneOff).toBe(false);
      expect(c.labels['com.docker.compose.project']).toBe('erp');
      expect(c.id).toMatch(/^[0-9a-f]{64}$/);
      expect(c.state).toBe('running');
      expect(typeof c.restartCount).toBe('number');
      expect(c.exitCode).toBe(0);
      expect(Date.parse(c.startedAt)).toBeGreaterThan(0);
      if (service.healthcheck) expect(['healthy', 'starting', 'unhealthy']).toContain(c.health);
      else expect(c.health).toBe('none');
    }
    expect(list.find((c) => c.name === 'erp-postgres')!.health).toBe('healthy');
    expect(list.find((c) => c.name === 'erp-nginx')!.health).toBe('none');
    expect(list.find((c) => c.name === 'erp-nginx')!.failingStreak).toBe(0);
    expect(await engine.listProjectContainers('no-such-project', T)).toEqual([]);
  });

  it('shows a paused container as paused (and unpauses it)', async () => {
    const r = await docker('POST', '/containers/erp-grafana/pause');
    expect(r.status).toBe(204);
    try {
      const list = await engine.listProjectContainers('erp', T);
      expect(list.find((c) => c.name === 'erp-grafana')!.state).toBe('paused');
    } finally {
      await docker('POST', '/containers/erp-grafana/unpause');
      await waitFor('erp-grafana running', async () => (await inspect('erp-grafana')).State.Status === 'running', 10000, 100);
    }
    expect((await engine.inspectContainer('erp-grafana', T)).state).toBe('running');
  });

  it('tails logs as lines, oldest first, stdout and stderr demultiplexed', async () => {
    const lines = await engine.tailLogs('erp-backend', 5, T);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(5);
    for (const line of lines) {
      expect(line).not.toMatch(/[\u0000-\u0008]/); // no frame headers left
      expect(() => JSON.parse(line)).not.toThrow(); // the stand-ins log JSON lines
    }
    const times = lines.map((l) => Date.parse(JSON.parse(l).ts));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const nginx = await engine.tailLogs('erp-nginx', 3, T);
    expect(nginx.length).toBe(3);
    const stamped = await engine.tailLogs('erp-backend', 2, { ...T, timestamps: true });
    expect(stamped[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z /);
    expect(await engine.tailLogs('erp-backend', 0, T)).toEqual([]);
  });

  it('demultiplexes frames, keeps a TTY stream as it is', () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(body.length, 4);
      return Buffer.concat([header, body]);
    };
    const raw = Buffer.concat([frame(1, 'out one\nout '), frame(2, 'err one\r\n'), frame(1, 'two\n'), frame(2, 'tail')]);
    expect(demuxLogLines(raw, false)).toEqual(['out one', 'err one', 'out two', 'tail']);
    expect(demuxLogLines(Buffer.from('a\r\nb\n'), true)).toEqual(['a', 'b']);
  });

  it('reads one-shot stats with sane numbers', async () => {
    const s = await engine.stats('erp-postgres', T);
    expect(s.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(s.cpuPercent).toBeLessThanOrEqual(100);
    expect(s.cpuPercentOfOneCore).toBeCloseTo(s.cpuPercent * s.onlineCpus, 0);
    expect(s.memoryBytes).toBeGreaterThan(1024 * 1024);
    expect(s.memoryLimitBytes).toBeGreaterThan(s.memoryBytes);
  });

  it('fails with bad_response (404) for an unknown container', async () => {
    const e = await failure(engine.tailLogs('erp-no-such-container', 5, T), 'bad_response', 'docker');
    expect(e.status).toBe(404);
    expect(e.message).toContain('erp-no-such-container');
    await failure(engine.stats('erp-no-such-container', T), 'bad_response');
  });

  it('fails with timeout when the engine does not answer in time (stats take about a second)', async () => {
    const e = await timesOut((timeoutMs) => engine.stats('erp-postgres', { timeoutMs }), 100, 'docker');
    expect(e.message).toContain('100 ms');
  });

  it('fails with unreachable when there is no engine at the socket', async () => {
    const missing = new DockerEngine('unix:///tmp/no-such-docker.sock');
    const e = await failure(missing.ping(T), 'unreachable', 'docker');
    expect(e.message).toContain('/tmp/no-such-docker.sock');
  });

  it("aborts on the caller's signal", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const e = await failure(engine.stats('erp-postgres', { timeoutMs: 5000, signal: controller.signal }), 'timeout');
    expect(e.message).toContain('aborted');
  });
});
