/**
 * The notifier: a message to an audience, on every channel configured in the inventory's
 * `notifications`, concurrently.
 *
 * | audience            | chat (webhook)      | e-mail (one message, SMTP)       |
 * | ------------------- | ------------------- | -------------------------------- |
 * | support (default)   | slackChannel        | email                            |
 * | emergency           | emergencyChannel    | email and managementEmail        |
 * | management          | (none)              | managementEmail                  |
 *
 * One NotificationDelivery per channel of the audience. A channel whose URL is "" is not
 * configured: `delivered: false, skipped: '…not configured…', attempts: 0`. A failure is a
 * delivery with `delivered: false` and an `error`; send() never throws. Secrets (the webhook
 * URL's path and query, the SMTP password) never appear in a result: targets show
 * scheme://host:port only and errors are scrubbed.
 *
 * Timing: `timeoutMs` is each channel's whole budget (attempts and backoff); `retries` more
 * attempts follow a failure that may be transient (connection trouble, HTTP 5xx/408/429,
 * SMTP 4xx), never one cut by the deadline or by the caller's `signal`.
 */
import { Inventory } from '../../config/inventory.schema';
import { NotificationDelivery, NotificationMessage, NotifierPort } from '../contracts';
import { chatPayload, postChat } from './chat-webhook';
import { AttemptPlan, runAttempts } from './retry';
import { originOf, showWebhook } from './secrets';
import { sendMail } from './smtp-mail';

export type NotificationAudience = NonNullable<NotificationMessage['audience']>;

export interface NotifierOptions {
  /** Each channel's budget when send() is given none (default 15 000 ms). */
  timeoutMs?: number;
  /** Retries after a transient failure when send() is given none (default 1: two attempts). */
  retries?: number;
  /** Pause before the first retry, doubled for each further one (default 250 ms). */
  backoffMs?: number;
  /** The chat message's sender name (default erp-ops). */
  chatUsername?: string;
  /** Clock of the `ms` figures (default performance.now). */
  now?: () => number;
}

export interface SendOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  retries?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_RETRIES = 1;
const DEFAULT_BACKOFF_MS = 250;
/** A typo such as retries: 1000 must not hammer a webhook. */
const MAX_RETRIES = 5;

function recipientsOf(notifications: Inventory['notifications'], audience: NotificationAudience): string[] {
  const all =
    audience === 'management'
      ? [notifications.managementEmail]
      : audience === 'emergency'
        ? [notifications.email, notifications.managementEmail]
        : [notifications.email];
  const seen = new Set<string>();
  return all.filter((address) => {
    const key = address.trim().toLowerCase();
    if (!key || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function chatChannelOf(notifications: Inventory['notifications'], audience: NotificationAudience): string | undefined {
  if (audience === 'management') return undefined;
  return audience === 'emergency' ? notifications.emergencyChannel : notifications.slackChannel;
}

export class Notifier implements NotifierPort {
  private readonly defaults: Required<Omit<NotifierOptions, 'now'>> & { now: () => number };

  constructor(
    private readonly notifications: Inventory['notifications'],
    options: NotifierOptions = {},
  ) {
    this.defaults = {
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      retries: options.retries ?? DEFAULT_RETRIES,
      backoffMs: options.backoffMs ?? DEFAULT_BACKOFF_MS,
      chatUsername: options.chatUsername ?? 'erp-ops',
      now: options.now ?? (() => performance.now()),
    };
  }

  /** The channels a message to `audience` goes to, as send() would report their targets (nothing is sent). */
  targets(audience: NotificationAudience = 'support'): { channel: 'chat' | 'email'; target: string; configured: boolean }[] {
    const out: { channel: 'chat' | 'email'; target: string; configured: boolean }[] = [];
    const chatChannel = chatChannelOf(this.notifications, audience);
    if (chatChannel !== undefined)
      out.push({ channel: 'chat', target: this.chatTarget(chatChannel), configured: this.notifications.chatWebhookUrl !== '' });
    out.push({
      channel: 'email',
      target: this.emailTarget(recipientsOf(this.notifications, audience)),
      configured: this.notifications.smtpUrl !== '',
    });
    return out;
  }

  async send(message: NotificationMessage, options: SendOptions = {}): Promise<NotificationDelivery[]> {
    const audience: NotificationAudience = message.audience ?? 'support';
    const retries = Math.min(
      MAX_RETRIES,
      Math.max(0, Math.floor(Number.isFinite(options.retries) ? (options.retries as number) : this.defaults.retries)),
    );
    const timeoutMs =
      Number.isFinite(options.timeoutMs) && (options.timeoutMs as number) > 0 ? (options.timeoutMs as number) : this.defaults.timeoutMs;
    const plan = (what: string): AttemptPlan => ({
      what,
      timeoutMs,
      retries,
      backoffMs: this.defaults.backoffMs,
      signal: options.signal,
      now: this.defaults.now,
    });

    const sends: Promise<NotificationDelivery>[] = [];
    const wants = (channel: 'chat' | 'email') => !message.channels || message.channels.includes(channel);
    const chatChannel = message.recipients?.chatChannel ?? chatChannelOf(this.notifications, audience);
    if (chatChannel !== undefined && wants('chat'))
      sends.push(this.guard('chat', this.chatTarget(chatChannel), () => this.sendChat(chatChannel, message, plan)));
    const to = message.recipients?.email ?? recipientsOf(this.notifications, audience);
    if (wants('email')) sends.push(this.guard('email', this.emailTarget(to), () => this.sendEmail(to, message, plan)));
    return Promise.all(sends);
  }

  private chatTarget(channel: string): string {
    return this.notifications.chatWebhookUrl ? `${channel} via ${showWebhook(this.notifications.chatWebhookUrl)}` : channel;
  }

  private emailTarget(to: string[]): string {
    const server = this.notifications.smtpUrl ? originOf(this.notifications.smtpUrl) : '';
    return `${to.join(', ')}${server ? ` via ${server}` : ''}`;
  }

  private async sendChat(
    channel: string,
    message: NotificationMessage,
    plan: (what: string) => AttemptPlan,
  ): Promise<NotificationDelivery> {
    const target = this.chatTarget(channel);
    const url = this.notifications.chatWebhookUrl;
    if (!url)
      return {
        channel: 'chat',
        target,
        delivered: false,
        skipped: 'chat webhook not configured (notifications.chatWebhookUrl is "")',
        attempts: 0,
        ms: 0,
      };
    const payload = chatPayload(channel, message.subject, message.text, this.defaults.chatUsername);
    const result = await runAttempts(plan(`chat: POST ${showWebhook(url)}`), (timeoutMs, signal) =>
      postChat(url, payload, timeoutMs, signal),
    );
    return { channel: 'chat', target, ...result };
  }

  private async sendEmail(to: string[], message: NotificationMessage, plan: (what: string) => AttemptPlan): Promise<NotificationDelivery> {
    const target = this.emailTarget(to);
    const url = this.notifications.smtpUrl;
    if (!url)
      return {
        channel: 'email',
        target,
        delivered: false,
        skipped: 'e-mail not configured (notifications.smtpUrl is "")',
        attempts: 0,
        ms: 0,
      };
    const mail = {
      // Defaults as in the schema, for a notifications object built without it.
      from: { name: this.notifications.fromName ?? 'ERP ops', address: this.notifications.fromEmail || 'erp-ops@localhost' },
      to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      attachments: message.attachments,
    };
    const result = await runAttempts(plan(`email: SMTP ${originOf(url)}`), (timeoutMs, signal) => sendMail(url, mail, timeoutMs, signal));
    return { channel: 'email', target, ...result };
  }

  /** send() never throws: anything unexpected becomes a failed delivery (without the error's text, which might hold a secret). */
  private async guard(channel: 'chat' | 'email', target: string, run: () => Promise<NotificationDelivery>): Promise<NotificationDelivery> {
    try {
      return await run();
    } catch (error) {
      return {
        channel,
        target,
        delivered: false,
        error: `${channel}: failed unexpectedly (${(error as Error)?.name ?? 'error'})`,
        attempts: 0,
        ms: 0,
      };
    }
  }
}
