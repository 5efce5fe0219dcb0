/** The port of notify/ (chat webhook, e-mail over SMTP). */
export interface NotificationMessage {
  subject: string;
  /** Plain text (the chat message, and the e-mail's text part). */
  text: string;
  /** The e-mail's HTML part (optional). */
  html?: string;
  /**
   * support (default): the support chat channel and mailbox; emergency: the emergency
   * channel and the support and management mailboxes; management: the management mailbox.
   */
  audience?: 'support' | 'emergency' | 'management';
  /** Only these channels (default: every channel of the audience). */
  channels?: ('chat' | 'email')[];
  /** Instead of the audience's: these mailboxes, this chat channel (a page to one person). */
  recipients?: { email?: string[]; chatChannel?: string };
  attachments?: { filename: string; content: Buffer | string; contentType?: string; cid?: string }[];
}

export interface NotificationDelivery {
  channel: 'chat' | 'email';
  /** Where it went, secrets masked (a webhook URL's token is a secret). */
  target: string;
  delivered: boolean;
  /** Why it was not attempted (the channel is not configured). */
  skipped?: string;
  error?: string;
  attempts: number;
  ms: number;
}

export interface NotifierPort {
  /** Sends on every configured channel of the audience; never throws (failures are in the result). */
  send(
    message: NotificationMessage,
    options?: { signal?: AbortSignal; timeoutMs?: number; retries?: number },
  ): Promise<NotificationDelivery[]>;
}
