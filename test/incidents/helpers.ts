import { randomBytes } from 'node:crypto';
import { Role } from '../../src/common/rights';
import { ChatSink, MailSink, startChatSink, startMailSink } from '../helpers/notify-sinks';
import { startTestApp, TestApp, TestAppOptions } from '../helpers/test-app';

/** The people of the incident tests' inventory: a support rotation, a senior dev rotation, a DBA. */
export interface IncidentWorld {
  t: TestApp;
  mail: MailSink;
  chat: ChatSink;
  /** An Alertmanager service token (scope alerts.receive). */
  alertmanager: string;
  /** Usernames of the paged people (control-plane users of these roles). */
  users: { sari: string; budi: string; dewi: string };
  /** The inventory patch of this world (sinks, people, levels and the caller's own patch). */
  inventoryPatch: (doc: Record<string, any>) => void;
  /** Another instance of the control plane sharing this one's database, Redis prefix and master key (a replica). */
  replica(): Promise<TestApp>;
  close(): Promise<void>;
}

/**
 * Time scale of the tests: 60 → a minute lasts a second (P1's 5-minute response time is 5 s).
 * Every duration of the policy is divided by it.
 */
export const SCALE = 60;

/** The incidents section: support (sari) at P3, senior devs (budi) at P2, budi and the DBA (dewi) at P1. */
export function incidentsSection(urls: { chat: string; smtp: string }, users: IncidentWorld['users']) {
  return (doc: Record<string, any>) => {
    doc.notifications.smtpUrl = urls.smtp;
    doc.notifications.chatWebhookUrl = urls.chat;
    doc.incidents = {
      people: [
        { id: 'sari', name: 'Sari (support)', username: users.sari, chat: '@sari', email: 'sari@erp.test', phone: '+62 811 0001' },
        { id: 'budi', name: 'Budi (senior dev)', username: users.budi, chat: '@budi', email: 'budi@erp.test', phone: '+62 811 0002' },
        { id: 'dewi', name: 'Dewi (DBA)', username: users.dewi, email: 'dewi@erp.test' },
      ],
      rotations: [
        { id: 'support', members: ['sari'], start: '2026-01-05T09:00:00+07:00' },
        { id: 'senior-dev', members: ['budi'], start: '2026-01-05T09:00:00+07:00' },
      ],
      levels: { P3: ['rotation:support'], P2: ['rotation:senior-dev'], P1: ['rotation:senior-dev', 'person:dewi'] },
      resolveGraceSeconds: 120,
      publicUrl: 'http://127.0.0.1:3100',
    };
  };
}

export async function incidentWorld(
  options: TestAppOptions & { env?: Record<string, string>; refuseMail?: (recipient: string) => boolean } = {},
): Promise<IncidentWorld> {
  const mail = await startMailSink({ refuse: options.refuseMail });
  const chat = await startChatSink();
  const suffix = randomBytes(3).toString('hex');
  const users = { sari: `sari${suffix}`, budi: `budi${suffix}`, dewi: `dewi${suffix}` };
  const patch = incidentsSection({ chat: chat.url, smtp: mail.url }, users);
  const inventoryPatch = (doc: Record<string, any>) => {
    patch(doc);
    options.inventoryPatch?.(doc);
  };
  const env = { OPS_INCIDENT_TIMERS: 'true', OPS_INCIDENT_TIME_SCALE: String(SCALE), OPS_INCIDENT_CHECK_MS: '250', ...options.env };
  const t = await startTestApp({ ...options, inventoryPatch, env });
  const replicas: TestApp[] = [];
  await t.createUser(Role.Support, users.sari);
  await t.createUser(Role.SeniorDev, users.budi);
  await t.createUser(Role.Dba, users.dewi);
  const admin = await t.tokenFor(Role.Admin);
  const made = await t
    .http()
    .post('/api/v1/tokens')
    .set('authorization', `Bearer ${admin}`)
    .send({ name: `alertmanager-${suffix}`, kind: 'service', scopes: ['alerts.receive'] });
  if (made.status !== 201) throw new Error(`service token: ${made.status} ${JSON.stringify(made.body)}`);
  return {
    t,
    mail,
    chat,
    alertmanager: made.body.token,
    users,
    inventoryPatch,
    async replica() {
      const r = await startTestApp({ ...options, inventoryPatch, env, shareWith: t });
      replicas.push(r);
      return r;
    },
    async close() {
      for (const r of replicas) await r.close();
      await t.close();
      await mail.close();
      await chat.close();
    },
  };
}

let fingerprintCounter = 0;

/** An Alertmanager webhook payload (version 4) as Alertmanager sends it. */
export function payload(options: {
  groupKey?: string;
  status?: 'firing' | 'resolved';
  alerts: {
    alertname: string;
    severity?: string;
    component?: string;
    fingerprint?: string;
    startsAt?: string;
    status?: 'firing' | 'resolved';
    summary?: string;
  }[];
}) {
  const status = options.status ?? 'firing';
  return {
    version: '4',
    groupKey: options.groupKey ?? `{}:{alertname="${options.alerts[0].alertname}"}`,
    truncatedAlerts: 0,
    status,
    receiver: 'on-call',
    groupLabels: { alertname: options.alerts[0].alertname },
    commonLabels: {
      alertname: options.alerts[0].alertname,
      severity: options.alerts[0].severity ?? 'critical',
      component: options.alerts[0].component ?? 'api',
    },
    commonAnnotations: { summary: options.alerts[0].summary ?? 'The ERP backend is down' },
    externalURL: 'http://127.0.0.1:19093',
    alerts: options.alerts.map((a) => ({
      status: a.status ?? status,
      labels: { alertname: a.alertname, severity: a.severity ?? 'critical', component: a.component ?? 'api' },
      annotations: { summary: a.summary ?? 'The ERP backend is down' },
      startsAt: a.startsAt ?? '2026-12-07T01:00:00Z',
      endsAt: (a.status ?? status) === 'resolved' ? '2026-12-07T01:30:00Z' : '0001-01-01T00:00:00Z',
      generatorURL: 'http://127.0.0.1:19090/graph',
      fingerprint: a.fingerprint ?? (++fingerprintCounter).toString(16).padStart(16, '0'),
    })),
  };
}

export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
