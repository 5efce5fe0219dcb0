/**
 * The notifier against real servers started by the test: an SMTP server (smtp-server) whose
 * messages are parsed with mailparser, and a chat webhook receiver (node:http). No stack needed.
 */
import { after, describe, it } from 'node:test';
import { expect } from 'expect';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { parseInventory } from '../../src/config/inventory.loader';
import { Inventory } from '../../src/config/inventory.schema';
import { NotificationDelivery, NotificationMessage } from '../../src/integrations/contracts';
import { Notifier } from '../../src/integrations/notify/notifier';
import { REPO_ROOT, closedPort } from './helpers';

const SMTP_USER = 'mailer';
const SMTP_PASSWORD = 'S3cr3t-p@ss/w:rd%';
const WEBHOOK_TOKEN = 'WebhookToken1234567890abc';
const WEBHOOK_PATH = `/services/T0TEST/B0TEST/${WEBHOOK_TOKEN}`;

interface ReceivedMail {
  mailFrom: string;
  rcptTo: string[];
  mail: ParsedMail;
}

interface SmtpStub {
  port: number;
  received: ReceivedMail[];
  auths: { username?: string; password?: string; method: string }[];
  /** Connections the server holds open right now. */
  openConnections(): number;
  url(credentials?: { user: string; password: string }): string;
  close(): Promise<void>;
}

/** A real SMTP server on 127.0.0.1 (no STARTTLS; AUTH only when `auth` is given). */
async function startSmtp(auth?: { user: string; password: string }): Promise<SmtpStub> {
  const received: ReceivedMail[] = [];
  const auths: SmtpStub['auths'] = [];
  const server = new SMTPServer({
    logger: false,
    disabledCommands: auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !auth,
    onAuth(request, _session, callback) {
      auths.push({ username: request.username ?? undefined, password: request.password ?? undefined, method: request.method });
      if (auth && request.username === auth.user && request.password === auth.password) return callback(null, { user: request.username });
      return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      simpleParser(stream, { keepCidLinks: true })
        .then((mail) => {
          received.push({
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
            mail,
          });
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const netServer = (server as unknown as { server: net.Server }).server;
  let open = 0;
  netServer.on('connection', (socket: net.Socket) => {
    open++;
    socket.once('close', () => open--);
  });
  const port = (netServer.address() as net.AddressInfo).port;
  return {
    port,
    received,
    auths,
    openConnections: () => open,
    url: (credentials) =>
      credentials
        ? `smtp://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}`
        : `smtp://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface WebhookRequest {
  method: string;
  url: string;
  contentType: string;
  body: string;
}

interface WebhookStub {
  port: number;
  requests: WebhookRequest[];
  /** What the receiver does: 'ok' answers 200 "ok" (as Slack does), a number answers that status (echoing the URL, as a careless proxy would), 'hang' never answers. */
  mode: 'ok' | 'hang' | number;
  url: string;
  close(): Promise<void>;
}

async function startWebhook(): Promise<WebhookStub> {
  const stub = { requests: [] as WebhookRequest[], mode: 'ok' as WebhookStub['mode'] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      stub.requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: String(req.headers['content-type'] ?? ''),
        body: Buffer.concat(chunks).toString('utf8'),
      });
      if (stub.mode === 'hang') return;
      if (stub.mode === 'ok') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      res.writeHead(stub.mode, { 'content-type': 'text/plain' }).end(`upstream failed for http://127.0.0.1${req.url}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return Object.assign(stub, {
    port,
    url: `http://127.0.0.1:${port}${WEBHOOK_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

function notifications(overrides: Partial<Inventory['notifications']> = {}): Inventory['notifications'] {
  return {
    slackChannel: '#erp-support',
    emergencyChannel: '#erp-emergency',
    email: 'erp-support@qutykarunia.com',
    managementEmail: 'management@qutykarunia.com',
    smtpUrl: '',
    chatWebhookUrl: '',
    fromEmail: 'erp-ops@localhost',
    fromName: 'ERP ops',
    ...overrides,
  };
}

const MESSAGE: NotificationMessage = {
  subject: 'Backend restarted',
  text: 'The backend was restarted by procedure restart-backend <run 42>.',
  html: '<p>The backend was restarted.</p><img src="cid:chart@erp-ops">',
  attachments: [
    { filename: 'report.txt', content: 'restart report\nall checks green\n', contentType: 'text/plain' },
    {
      filename: 'chart.png',
      content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]),
      contentType: 'image/png',
      cid: 'chart@erp-ops',
    },
  ],
};

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!condition() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
}

function byChannel(deliveries: NotificationDelivery[], channel: 'chat' | 'email'): NotificationDelivery {
  const found = deliveries.find((d) => d.channel === channel);
  if (!found) throw new Error(`no ${channel} delivery in ${JSON.stringify(deliveries)}`);
  return found;
}

function expectNoSecrets(value: unknown): void {
  const json = JSON.stringify(value);
  for (const secret of [
    SMTP_PASSWORD,
    encodeURIComponent(SMTP_PASSWORD),
    Buffer.from(SMTP_PASSWORD).toString('base64'),
    WEBHOOK_TOKEN,
    WEBHOOK_PATH,
    'B0TEST',
  ]) {
    expect(json).not.toContain(secret);
  }
}

describe('Notifier', () => {
  const servers: { close(): Promise<void> }[] = [];
  const smtp = async (auth?: { user: string; password: string }) => {
    const s = await startSmtp(auth);
    servers.push(s);
    return s;
  };
  const webhook = async () => {
    const w = await startWebhook();
    servers.push(w);
    return w;
  };

  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('support (default): one chat post to slackChannel and one e-mail to the support mailbox, with html and attachments', async () => {
    const mail = await smtp();
    const hook = await webhook();
    const notifier = new Notifier(notifications({ smtpUrl: mail.url(), chatWebhookUrl: hook.url }));

    const deliveries = await notifier.send(MESSAGE, { timeoutMs: 5000 });

    expect(deliveries).toHaveLength(2);
    const chat = byChannel(deliveries, 'chat');
    expect(chat).toEqual({
      channel: 'chat',
      target: `#erp-support via http://127.0.0.1:${hook.port}/…`,
      delivered: true,
      attempts: 1,
      ms: expect.any(Number),
    });
    const email = byChannel(deliveries, 'email');
    expect(email).toEqual({
      channel: 'email',
      target: `erp-support@qutykarunia.com via smtp://127.0.0.1:${mail.port}`,
      delivered: true,
      attempts: 1,
      ms: expect.any(Number),
    });
    expect(email.ms).toBeGreaterThanOrEqual(0);
    expect(email.ms).toBeLessThan(5000);

    expect(hook.requests).toHaveLength(1);
    const post = hook.requests[0];
    expect(post.method).toBe('POST');
    expect(post.url).toBe(WEBHOOK_PATH);
    expect(post.contentType).toBe('application/json');
    const body = JSON.parse(post.body);
    expect(body).toMatchObject({ channel: '#erp-support', username: 'erp-ops' });
    // Subject in bold first; Slack's control characters escaped.
    expect(body.text).toBe('*Backend restarted*\nThe backend was restarted by procedure restart-backend &lt;run 42&gt;.');

    expect(mail.received).toHaveLength(1);
    const { mailFrom, rcptTo, mail: parsed } = mail.received[0];
    expect(mailFrom).toBe('erp-ops@localhost');
    expect(rcptTo).toEqual(['erp-support@qutykarunia.com']);
    expect(parsed.from?.value).toEqual([{ address: 'erp-ops@localhost', name: 'ERP ops' }]);
    expect((Array.isArray(parsed.to) ? parsed.to : [parsed.to]).flatMap((a) => a?.value.map((v) => v.address))).toEqual([
      'erp-support@qutykarunia.com',
    ]);
    expect(parsed.subject).toBe('Backend restarted');
    expect(parsed.text?.trim()).toBe(MESSAGE.text);
    expect(parsed.html).toContain('<p>The backend was restarted.</p>');
    expect(parsed.html).toContain('cid:chart@erp-ops');
    expect(parsed.attachments).toHaveLength(2);
    const report = parsed.attachments.find((a) => a.filename === 'report.txt')!;
    expect(report.contentType).toBe('text/plain');
    expect(report.content.toString('utf8')).toBe('restart report\nall checks green\n');
    const chart = parsed.attachments.find((a) => a.filename === 'chart.png')!;
    expect(chart.contentType).toBe('image/png');
    expect(chart.cid).toBe('chart@erp-ops');
    expect(chart.related).toBe(true);
    expect(chart.content.equals(MESSAGE.attachments![1].content as Buffer)).toBe(true);
  });

  it('emergency: chat to emergencyChannel and one e-mail to support and management; management: e-mail only', async () => {
    const mail = await smtp();
    const hook = await webhook();
    const notifier = new Notifier(notifications({ smtpUrl: mail.url(), chatWebhookUrl: hook.url }));

    const emergency = await notifier.send(
      { subject: 'ERP down', text: 'P1: the ERP is down.', audience: 'emergency' },
      { timeoutMs: 5000 },
    );
    expect(emergency.map((d) => [d.channel, d.delivered])).toEqual([
      ['chat', true],
      ['email', true],
    ]);
    expect(byChannel(emergency, 'chat').target).toBe(`#erp-emergency via http://127.0.0.1:${hook.port}/…`);
    expect(byChannel(emergency, 'email').target).toBe(
      `erp-support@qutykarunia.com, management@qutykarunia.com via smtp://127.0.0.1:${mail.port}`,
    );
    expect(JSON.parse(hook.requests[0].body).channel).toBe('#erp-emergency');
    expect(mail.received).toHaveLength(1);
    expect(mail.received[0].rcptTo).toEqual(['erp-support@qutykarunia.com', 'management@qutykarunia.com']);
    expect(mail.received[0].mail.subject).toBe('ERP down');

    const management = await notifier.send({ subject: 'Weekly report', text: 'All green.', audience: 'management' }, { timeoutMs: 5000 });
    expect(management).toEqual([
      {
        channel: 'email',
        target: `management@qutykarunia.com via smtp://127.0.0.1:${mail.port}`,
        delivered: true,
        attempts: 1,
        ms: expect.any(Number),
      },
    ]);
    expect(hook.requests).toHaveLength(1); // no chat for management
    expect(mail.received[1].rcptTo).toEqual(['management@qutykarunia.com']);
    expect(mail.received[1].mail.html).toBeFalsy(); // no html part given
  });

  it('SMTP server down: not delivered, a clear error after retries + 1 attempts, no throw', async () => {
    const port = await closedPort();
    const notifier = new Notifier(
      notifications({ smtpUrl: `smtp://${SMTP_USER}:${encodeURIComponent(SMTP_PASSWORD)}@127.0.0.1:${port}` }),
      { backoffMs: 50 },
    );

    const started = Date.now();
    const deliveries = await notifier.send({ subject: 's', text: 't' }, { retries: 2, timeoutMs: 5000 });
    expect(Date.now() - started).toBeLessThan(3000);

    expect(deliveries).toHaveLength(2);
    const email = byChannel(deliveries, 'email');
    expect(email.delivered).toBe(false);
    expect(email.attempts).toBe(3);
    expect(email.target).toBe(`erp-support@qutykarunia.com via smtp://127.0.0.1:${port}`);
    expect(email.error).toContain(`smtp://127.0.0.1:${port}`);
    expect(email.error).toContain('connection refused');
    expect(email.skipped).toBeUndefined();
    expectNoSecrets(deliveries);

    // the default: one retry
    const again = byChannel(await notifier.send({ subject: 's', text: 't' }, { timeoutMs: 5000 }), 'email');
    expect(again.attempts).toBe(2);
  });

  it('webhook answering 500 is retried, then reported failed; 404 is final at once', async () => {
    const hook = await webhook();
    hook.mode = 500;
    const notifier = new Notifier(notifications({ chatWebhookUrl: hook.url }), { backoffMs: 50 });

    const chat = byChannel(await notifier.send({ subject: 's', text: 't' }, { timeoutMs: 5000 }), 'chat');
    expect(chat.delivered).toBe(false);
    expect(chat.attempts).toBe(2);
    expect(hook.requests).toHaveLength(2);
    expect(chat.error).toContain('HTTP 500');
    expect(chat.error).toContain(`http://127.0.0.1:${hook.port}/…`);
    // the receiver echoed the URL (with its token) in its body: masked
    expect(chat.error).toContain('****');
    expectNoSecrets(chat);

    hook.mode = 404;
    const final = byChannel(await notifier.send({ subject: 's', text: 't' }, { retries: 3, timeoutMs: 5000 }), 'chat');
    expect(final.attempts).toBe(1);
    expect(final.error).toContain('HTTP 404');
    expect(hook.requests).toHaveLength(3);

    hook.mode = 'ok';
    const ok = byChannel(await notifier.send({ subject: 's', text: 't' }, { timeoutMs: 5000 }), 'chat');
    expect(ok.delivered).toBe(true);
  });

  it('a webhook that never answers: not delivered, a timeout within the configured timeout', async () => {
    const hook = await webhook();
    hook.mode = 'hang';
    const notifier = new Notifier(notifications({ chatWebhookUrl: hook.url }));

    const started = Date.now();
    const chat = byChannel(await notifier.send({ subject: 's', text: 't' }, { timeoutMs: 400, retries: 2 }), 'chat');
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(350);
    expect(took).toBeLessThan(1400);
    expect(chat.delivered).toBe(false);
    expect(chat.attempts).toBe(1); // the hung attempt used the whole budget
    expect(chat.error).toBe(`chat: POST http://127.0.0.1:${hook.port}/… did not finish within 400 ms`);
    expect(chat.ms).toBeGreaterThanOrEqual(350);
    expect(chat.ms).toBeLessThan(1400);
  });

  it('an SMTP server that accepts and never greets: a timeout within the configured timeout, the connection closed', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    servers.push({
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          silent.close(() => resolve());
        }),
    });
    const port = (silent.address() as net.AddressInfo).port;
    const notifier = new Notifier(notifications({ smtpUrl: `smtp://127.0.0.1:${port}` }));

    const started = Date.now();
    const email = byChannel(await notifier.send({ subject: 's', text: 't' }, { timeoutMs: 400 }), 'email');
    expect(Date.now() - started).toBeLessThan(1400);
    expect(email).toMatchObject({
      delivered: false,
      attempts: 1,
      error: `email: SMTP smtp://127.0.0.1:${port} did not finish within 400 ms`,
    });
    // The client dropped its connection when the deadline passed (no socket left behind).
    await waitFor(() => sockets.size === 0, 2000);
    expect(sockets.size).toBe(0);
  });

  it('secrets (the SMTP password, the webhook token path) appear nowhere in the results, success or failure', async () => {
    const mail = await smtp({ user: SMTP_USER, password: SMTP_PASSWORD });
    const hook = await webhook();
    const good = new Notifier(notifications({ smtpUrl: mail.url({ user: SMTP_USER, password: SMTP_PASSWORD }), chatWebhookUrl: hook.url }));
    const ok = await good.send({ subject: 's', text: 't', audience: 'emergency' }, { timeoutMs: 5000 });
    expect(ok.every((d) => d.delivered)).toBe(true);
    expectNoSecrets(ok);

    // Wrong password: the server refuses, the error says so without the password.
    const wrong = new Notifier(
      notifications({ smtpUrl: mail.url({ user: SMTP_USER, password: `${SMTP_PASSWORD}-wrong` }), chatWebhookUrl: hook.url }),
      { backoffMs: 10 },
    );
    hook.mode = 503;
    const failed = await wrong.send({ subject: 's', text: 't' }, { timeoutMs: 5000 });
    const email = byChannel(failed, 'email');
    expect(email.delivered).toBe(false);
    expect(email.attempts).toBe(1); // 535 is permanent
    expect(email.error).toMatch(/535|auth|login/i);
    expect(byChannel(failed, 'chat').delivered).toBe(false);
    expectNoSecrets(failed);
    expect(JSON.stringify(failed)).not.toContain(`${SMTP_PASSWORD}-wrong`);
    expect(JSON.stringify(failed)).not.toContain(encodeURIComponent(`${SMTP_PASSWORD}-wrong`));
  });

  it('unconfigured channels are skipped: attempts 0, nothing sent', async () => {
    const mail = await smtp();
    const chatOnlyMissing = new Notifier(notifications({ smtpUrl: mail.url(), chatWebhookUrl: '' }));
    const deliveries = await chatOnlyMissing.send({ subject: 's', text: 't' });
    expect(byChannel(deliveries, 'chat')).toEqual({
      channel: 'chat',
      target: '#erp-support',
      delivered: false,
      skipped: expect.stringContaining('not configured'),
      attempts: 0,
      ms: 0,
    });
    expect(byChannel(deliveries, 'email').delivered).toBe(true);

    const nothing = new Notifier(notifications());
    const none = await nothing.send({ subject: 's', text: 't', audience: 'emergency' });
    expect(none).toEqual([
      {
        channel: 'chat',
        target: '#erp-emergency',
        delivered: false,
        skipped: expect.stringContaining('not configured'),
        attempts: 0,
        ms: 0,
      },
      {
        channel: 'email',
        target: 'erp-support@qutykarunia.com, management@qutykarunia.com',
        delivered: false,
        skipped: expect.stringContaining('not configured'),
        attempts: 0,
        ms: 0,
      },
    ]);
    expect(nothing.targets('management')).toEqual([{ channel: 'email', target: 'management@qutykarunia.com', configured: false }]);
  });

  it('SMTP AUTH with the credentials of the URL (percent-encoded password)', async () => {
    const mail = await smtp({ user: SMTP_USER, password: SMTP_PASSWORD });
    const notifier = new Notifier(notifications({ smtpUrl: mail.url({ user: SMTP_USER, password: SMTP_PASSWORD }) }));
    const email = byChannel(await notifier.send({ subject: 'Authenticated', text: 'hello' }, { timeoutMs: 5000 }), 'email');
    expect(email.delivered).toBe(true);
    expect(mail.auths).toHaveLength(1);
    expect(mail.auths[0]).toMatchObject({ username: SMTP_USER, password: SMTP_PASSWORD });
    expect(mail.received.map((r) => r.mail.subject)).toEqual(['Authenticated']);

    // A server that requires AUTH, and a URL without credentials: refused, not retried.
    const anonymous = new Notifier(notifications({ smtpUrl: mail.url() }));
    const refused = byChannel(await anonymous.send({ subject: 'x', text: 'y' }, { timeoutMs: 5000 }), 'email');
    expect(refused.delivered).toBe(false);
    expect(refused.attempts).toBe(1);
    expect(refused.error).toContain(`email: SMTP smtp://127.0.0.1:${mail.port}: `);
    expect(refused.error).toMatch(/530|auth/i);
  });

  it("the caller's signal: an abort stops the sends, reported as not delivered", async () => {
    const hook = await webhook();
    hook.mode = 'hang';
    const notifier = new Notifier(notifications({ chatWebhookUrl: hook.url }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const started = Date.now();
    const chat = byChannel(await notifier.send({ subject: 's', text: 't' }, { timeoutMs: 5000, signal: controller.signal }), 'chat');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(chat.delivered).toBe(false);
    expect(chat.attempts).toBe(1);
    expect(chat.error).toBe(`chat: POST http://127.0.0.1:${hook.port}/… aborted by the caller`);

    const before = await notifier.send({ subject: 's', text: 't' }, { signal: AbortSignal.abort() });
    expect(byChannel(before, 'chat')).toMatchObject({
      delivered: false,
      attempts: 0,
      error: expect.stringContaining('aborted by the caller'),
    });
  });

  it('SMTP: the connection is closed once a send has settled (a transport per send, QUIT after it)', async () => {
    const mail = await smtp();
    const notifier = new Notifier(notifications({ smtpUrl: mail.url() }));
    for (let i = 0; i < 3; i++) {
      const email = byChannel(await notifier.send({ subject: `n${i}`, text: 't' }, { timeoutMs: 5000 }), 'email');
      expect(email.delivered).toBe(true);
    }
    expect(mail.received).toHaveLength(3);
    await waitFor(() => mail.openConnections() === 0, 2000);
    expect(mail.openConnections()).toBe(0);
  });
});

describe('inventory: notifications', () => {
  const example = yaml.load(fs.readFileSync(path.join(REPO_ROOT, 'ops.example.yaml'), 'utf8')) as Record<string, any>;
  const parse = (notificationsBlock: Record<string, unknown>): Inventory =>
    parseInventory(yaml.dump({ ...example, notifications: notificationsBlock }), 'ops.yaml', {});

  it('an old block (without fromEmail/fromName) still validates, with defaults', () => {
    const inventory = parse({
      email: 'erp-support@qutykarunia.com',
      managementEmail: 'management@qutykarunia.com',
      smtpUrl: 'smtp://localhost:25',
    });
    expect(inventory.notifications).toEqual({
      slackChannel: '#erp-support',
      emergencyChannel: '#erp-emergency',
      email: 'erp-support@qutykarunia.com',
      managementEmail: 'management@qutykarunia.com',
      smtpUrl: 'smtp://localhost:25',
      chatWebhookUrl: '',
      fromEmail: 'erp-ops@localhost',
      fromName: 'ERP ops',
    });
  });

  it('smtpUrl "" means no e-mail; a wrong scheme or a missing smtpUrl is named in the error', () => {
    const base = { email: 'erp-support@qutykarunia.com', managementEmail: 'management@qutykarunia.com' };
    expect(parse({ ...base, smtpUrl: '', fromEmail: 'ops@erp.example.com' }).notifications).toMatchObject({
      smtpUrl: '',
      fromEmail: 'ops@erp.example.com',
    });
    expect(() => parse({ ...base, smtpUrl: 'http://localhost:25' })).toThrow(/notifications\.smtpUrl: must be a smtp or smtps URL/);
    expect(() => parse(base)).toThrow(/notifications\.smtpUrl: is required/);
    expect(() => parse({ ...base, smtpUrl: 'smtp://localhost:25', fromEmail: 'not an address' })).toThrow(
      /notifications\.fromEmail: must be an e-mail address/,
    );
  });
});
