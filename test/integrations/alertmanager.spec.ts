/**
 * Alertmanager adapter (API v2) against the stand-in's real Alertmanager (erp-alertmanager,
 * 127.0.0.1:19093). Test alerts carry a unique test_run label and end within minutes; every
 * silence made here is expired again, even on failure.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { after, describe, it } from 'node:test';
import { expect } from 'expect';
import { Alertmanager, formatMatcher } from '../../src/integrations/alertmanager/alertmanager';
import { AmAlertInput } from '../../src/integrations/contracts';
import { waitFor } from '../stack/stack-helpers';
import { closedPort, failure, stackInventory, startHangingServer, timesOut } from './helpers';

const inventory = stackInventory();
const T = { timeoutMs: 5000 };

describe('Alertmanager', () => {
  const am = new Alertmanager(inventory.urls.alertmanager);
  const run = `am${randomBytes(4).toString('hex')}`;
  const made: string[] = [];
  const now = Date.now();
  const base: { labels: Record<string, string>; annotations: Record<string, string> }[] = [
    { labels: { alertname: 'AmTestA', test_run: run, instance: 'one', severity: 'warning' }, annotations: { summary: 'first A' } },
    { labels: { alertname: 'AmTestA', test_run: run, instance: 'two', severity: 'warning' }, annotations: { summary: 'second A' } },
    {
      labels: { alertname: 'AmTestB', test_run: run, instance: 'one', severity: 'critical', note: 'say "hi" \\ bye' },
      annotations: { summary: 'the B' },
    },
  ];
  const alerts: AmAlertInput[] = base.map((a) => ({
    ...a,
    startsAt: new Date(now - 60_000).toISOString(),
    endsAt: new Date(now + 4 * 60_000).toISOString(),
    generatorURL: 'http://127.0.0.1:19090/graph',
  }));
  const mine = () => am.alerts({ filter: [`test_run="${run}"`] }, T);

  after(async () => {
    for (const id of made) await am.expireSilence(id, T).catch(() => undefined);
    // Resolve the test alerts (endsAt now).
    const end = new Date().toISOString();
    await am
      .postAlerts(
        alerts.map((a) => ({ ...a, endsAt: end })),
        T,
      )
      .catch(() => undefined);
  });

  it('reads the status: cluster status and version', async () => {
    const s = await am.status(T);
    expect(s.cluster).toBe('disabled');
    expect(s.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Date.parse(s.uptime)).toBeGreaterThan(0);
  });

  it('posts alerts and lists them with labels, annotations, fingerprint, state and receivers', async () => {
    await am.postAlerts(alerts, T);
    const listed = await waitFor(
      'the 3 test alerts to be active',
      async () => {
        const l = await mine();
        return l.length === 3 && l.every((a) => a.status.state === 'active') ? l : null;
      },
      15_000,
      200,
    );
    for (const a of listed) {
      expect(a.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      expect(a.labels.test_run).toBe(run);
      expect(a.annotations.summary).toMatch(/A|B/);
      expect(a.status).toEqual({ state: 'active', silencedBy: [], inhibitedBy: [] });
      expect(a.receivers.length).toBeGreaterThan(0);
      expect(a.generatorURL).toBe('http://127.0.0.1:19090/graph');
      expect(Date.parse(a.startsAt)).toBeLessThanOrEqual(now);
    }
    expect(listed.find((a) => a.labels.alertname === 'AmTestB')!.labels.note).toBe('say "hi" \\ bye');
  });

  it('filters with repeated matchers: equal, regex, negated, and values with quotes and backslashes', async () => {
    const byName = await am.alerts({ filter: [`test_run="${run}"`, { name: 'alertname', value: 'AmTestA', isRegex: false }] }, T);
    expect(byName.map((a) => a.labels.instance).sort()).toEqual(['one', 'two']);
    const regex = await am.alerts(
      {
        filter: [
          { name: 'test_run', value: run, isRegex: false },
          { name: 'alertname', value: 'AmTest[AB]', isRegex: true },
        ],
      },
      T,
    );
    expect(regex).toHaveLength(3);
    const negated = await am.alerts(
      { filter: [`test_run="${run}"`, { name: 'alertname', value: 'AmTestA', isRegex: false, isEqual: false }] },
      T,
    );
    expect(negated.map((a) => a.labels.alertname)).toEqual(['AmTestB']);
    const quoted = await am.alerts({ filter: [`test_run="${run}"`, { name: 'note', value: 'say "hi" \\ bye', isRegex: false }] }, T);
    expect(quoted.map((a) => a.labels.alertname)).toEqual(['AmTestB']);
    expect(formatMatcher({ name: 'note', value: 'say "hi" \\ bye', isRegex: false })).toBe('note="say \\"hi\\" \\\\ bye"');
    // The flags: only silenced ones (none yet), and a filter nothing matches.
    expect(
      await am.alerts({ active: false, silenced: true, inhibited: false, unprocessed: false, filter: [`test_run="${run}"`] }, T),
    ).toEqual([]);
    expect(await am.alerts({ filter: [`test_run="${run}-nothing"`] }, T)).toEqual([]);
  });

  it('a filter Alertmanager cannot parse is refused (400) with its reason', async () => {
    const e = await failure(am.alerts({ filter: ['alertname=~"("'] }, T), 'refused', 'alertmanager');
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/GET http:\/\/127\.0\.0\.1:19093\/api\/v2\/alerts/);
  });

  it('creates a silence, reads it, sees the alerts suppressed by it, expires it (DELETE /silence/{id})', async () => {
    const start = new Date();
    const id = await am.createSilence(
      {
        matchers: [
          { name: 'test_run', value: run, isRegex: false },
          { name: 'alertname', value: 'AmTestA', isRegex: false, isEqual: true },
        ],
        startsAt: start.toISOString(),
        endsAt: new Date(start.getTime() + 10 * 60_000).toISOString(),
        createdBy: 'adapter-test',
        comment: `adapter test ${run}`,
      },
      T,
    );
    made.push(id);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const silence = await am.silence(id, T);
    expect(silence).toMatchObject({ id, createdBy: 'adapter-test', comment: `adapter test ${run}`, status: { state: 'active' } });
    expect(silence.matchers).toEqual([
      { name: 'test_run', value: run, isRegex: false, isEqual: true },
      { name: 'alertname', value: 'AmTestA', isRegex: false, isEqual: true },
    ]);
    expect((await am.silences(T)).some((s) => s.id === id && s.status.state === 'active')).toBe(true);
    const suppressed = await waitFor(
      'the A alerts to be suppressed by the silence',
      async () => {
        const l = await mine();
        const a = l.filter((x) => x.labels.alertname === 'AmTestA');
        return a.length === 2 && a.every((x) => x.status.state === 'suppressed' && x.status.silencedBy.includes(id)) ? l : null;
      },
      10_000,
      200,
    );
    expect(suppressed.find((x) => x.labels.alertname === 'AmTestB')!.status.state).toBe('active');
    // silenced=false leaves them out.
    expect((await am.alerts({ silenced: false, filter: [`test_run="${run}"`] }, T)).map((a) => a.labels.alertname)).toEqual(['AmTestB']);

    await am.expireSilence(id, T);
    expect((await am.silence(id, T)).status.state).toBe('expired');
    await waitFor(
      'the A alerts to be active again',
      async () => {
        const a = (await mine()).filter((x) => x.labels.alertname === 'AmTestA');
        return a.length === 2 && a.every((x) => x.status.state === 'active');
      },
      10_000,
      200,
    );
  });

  it('an unknown silence is bad_response 404; a malformed id and a bad silence are refused', async () => {
    const missing = randomUUID();
    const e = await failure(am.silence(missing, T), 'bad_response', 'alertmanager');
    expect(e.status).toBe(404);
    expect(e.message).toContain(`silence ${missing} does not exist`);
    await failure(am.silence('not-a-uuid', T), 'refused');
    await failure(am.expireSilence('../silences', T), 'refused');
    const start = new Date();
    const window = {
      startsAt: start.toISOString(),
      endsAt: new Date(start.getTime() + 60_000).toISOString(),
      createdBy: 'adapter-test',
      comment: 'refused',
    };
    const everything = await failure(
      am.createSilence({ ...window, matchers: [{ name: 'alertname', value: '.*', isRegex: true }] }, T),
      'refused',
      'alertmanager',
    );
    expect(everything.status).toBe(400);
    expect(everything.message).toMatch(/empty/);
    const badRegex = await failure(
      am.createSilence({ ...window, matchers: [{ name: 'alertname', value: '(', isRegex: true }] }, T),
      'refused',
    );
    expect(badRegex.status).toBe(400);
    await failure(am.createSilence({ ...window, matchers: [] }, T), 'refused');
  });

  it('a port nothing listens on is unreachable', async () => {
    const port = await closedPort();
    const e = await failure(new Alertmanager(`http://127.0.0.1:${port}`).status(T), 'unreachable', 'alertmanager');
    expect(e.message).toMatch(/connection refused/);
  });

  it("a server that never answers times out within the call's timeout", async () => {
    const server = await startHangingServer();
    try {
      const e = await timesOut((timeoutMs) => new Alertmanager(server.url).alerts({}, { timeoutMs }), 300, 'alertmanager');
      expect(e.message).toMatch(/within 300 ms/);
    } finally {
      await server.close();
    }
  });

  it('something else answering is bad_response (not JSON, or not API v2)', async () => {
    const server = http.createServer((req, res) => {
      if (req.url?.startsWith('/api/v2/status')) {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>grafana</html>');
      } else {
        res.writeHead(404).end('404 page not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const html = await failure(new Alertmanager(url).status(T), 'bad_response', 'alertmanager');
      expect(html.message).toMatch(/not JSON/);
      const notFound = await failure(new Alertmanager(url).silences(T), 'bad_response', 'alertmanager');
      expect(notFound.status).toBe(404);
      expect(notFound.message).toMatch(/API v2/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
