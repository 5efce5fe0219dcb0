/**
 * One attempt at sending an e-mail over SMTP with nodemailer (the only file that imports it).
 *
 * A transport is created for each attempt and closed after it: the notifier sends rarely, so
 * a pool would only keep idle connections (and their timers) alive between notifications;
 * a non-pooled nodemailer transport opens one connection per message and QUITs it after.
 * The attempt's deadline is given to nodemailer three ways: its connection, greeting and
 * socket timeouts, the message's AbortSignal (closes the connection), and a race that
 * settles the attempt when the deadline passes whatever the library still does.
 *
 * nodemailer's errors can quote the connection URL or the server's answers: every text that
 * leaves this file is scrubbed of the URL's password.
 */
import * as nodemailer from 'nodemailer';
import { withDeadline } from '../http/deadline';
import { IntegrationError } from '../integration-error';
import { AttemptOutcome } from './retry';
import { originOf, smtpSecrets } from './secrets';
import { maskedErrorLine } from '../../common/secrets';

export interface MailContent {
  from: { name: string; address: string };
  to: string[];
  subject: string;
  text: string;
  html?: string;
  attachments?: { filename: string; content: Buffer | string; contentType?: string; cid?: string }[];
}

/** SMTP reply codes 4xx are transient (RFC 5321); these library codes are connection trouble. */
const RETRYABLE_CODES = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'EPROTOCOL']);

const SOCKET_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (nothing listens there)',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name not found',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

interface SmtpError {
  code?: string;
  /** The socket's own code (ECONNREFUSED, ...) when nodemailer replaced `code` by ESOCKET. */
  originalCode?: string;
  responseCode?: number;
  command?: string;
  message?: string;
  cause?: unknown;
}

function describeSmtpError(error: SmtpError): string {
  const socketCode = [error.originalCode, error.code, (error.cause as SmtpError | undefined)?.code].find(
    (c): c is string => typeof c === 'string' && c in SOCKET_WORDS,
  );
  if (socketCode) return SOCKET_WORDS[socketCode];
  const message = typeof error.message === 'string' && error.message ? error.message : String(error);
  const parts = [message];
  if (error.command && !message.includes(error.command)) parts.push(`(command ${error.command})`);
  return parts.join(' ');
}

function isRetryable(error: SmtpError): boolean {
  if (typeof error.responseCode === 'number') return error.responseCode >= 400 && error.responseCode < 500;
  return typeof error.code === 'string' && RETRYABLE_CODES.has(error.code);
}

/**
 * The transport options of one attempt: the URL's own settings (and nodemailer options in its
 * query, which win over these) plus explicit timeouts. Logging stays off whatever the query
 * says: nodemailer's log would carry the SMTP conversation.
 */
function transportOptions(smtpUrl: string, timeoutMs: number): Record<string, unknown> {
  let url = smtpUrl;
  try {
    const parsed = new URL(smtpUrl);
    for (const key of [...parsed.searchParams.keys()]) if (/^(logger|debug|transactionLog)$/i.test(key)) parsed.searchParams.delete(key);
    url = parsed.href;
  } catch {
    // nodemailer reports the bad URL (scrubbed by the caller)
  }
  return {
    url,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    // After QUIT: wait this long for the server to close its side, then destroy the socket.
    socketCloseTimeout: Math.min(timeoutMs, 2000),
    logger: false,
    debug: false,
    // Only the message's own content goes out: no file paths or URLs are ever read.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

export async function sendMail(smtpUrl: string, mail: MailContent, timeoutMs: number, signal: AbortSignal): Promise<AttemptOutcome> {
  const secrets = smtpSecrets(smtpUrl);
  const what = `SMTP ${originOf(smtpUrl) || '(invalid URL)'}`;
  let transport: nodemailer.Transporter | undefined;
  let libraryError: SmtpError | undefined;
  try {
    transport = nodemailer.createTransport(transportOptions(smtpUrl, timeoutMs) as nodemailer.TransportOptions);
    const created = transport;
    await withDeadline(
      'email',
      what,
      { timeoutMs, signal },
      (deadline) =>
        created.sendMail({
          from: mail.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          ...(mail.html !== undefined ? { html: mail.html } : {}),
          attachments: (mail.attachments ?? []).map((a) => ({
            filename: a.filename,
            content: a.content,
            ...(a.contentType ? { contentType: a.contentType } : {}),
            ...(a.cid ? { cid: a.cid } : {}),
          })),
          signal: deadline.signal,
        }),
      (error) => {
        libraryError = (error ?? {}) as SmtpError;
        return new IntegrationError('email', 'unreachable', `email: ${what}: ${describeSmtpError(libraryError)}`);
      },
    );
    return { ok: true };
  } catch (error) {
    // A deadline (timeout or the caller's abort) is never retried: the server may have taken the message.
    const retryable = libraryError !== undefined && isRetryable(libraryError);
    const text = error instanceof IntegrationError ? error.message : `email: ${what}: ${describeSmtpError((error ?? {}) as SmtpError)}`;
    return { ok: false, retryable, error: maskedErrorLine(text, secrets) };
  } finally {
    transport?.close();
  }
}
