/**
 * One attempt at posting a chat message to an incoming webhook (Slack's JSON: channel, text,
 * username; Mattermost and Rocket.Chat accept the same). Any 2xx is success: Slack answers
 * the text "ok", so the body is not parsed. 5xx, 408, 429 and connection failures may be
 * retried; other answers (404 for a revoked token, 400 for a bad payload) are final.
 */
import { httpRequest } from '../http/http-client';
import { IntegrationError } from '../integration-error';
import { AttemptOutcome } from './retry';
import { showWebhook, webhookSecrets } from './secrets';
import { maskedErrorLine } from '../../common/secrets';

/** Slack rejects or cuts longer texts (its limit is 40 000 characters). */
const TEXT_LIMIT = 39_000;

/** Slack's control characters: escaped so that a message cannot mention @channel or forge links. */
export function escapeChatText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The JSON body posted for a message: the subject in bold on the first line, then the text. */
export function chatPayload(channel: string, subject: string, text: string, username: string): Record<string, unknown> {
  let body = `*${escapeChatText(subject)}*\n${escapeChatText(text)}`;
  if (body.length > TEXT_LIMIT) body = `${body.slice(0, TEXT_LIMIT - 1)}…`;
  return { channel, text: body, username, unfurl_links: false, unfurl_media: false };
}

export async function postChat(
  webhookUrl: string,
  payload: Record<string, unknown>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<AttemptOutcome> {
  const secrets = webhookSecrets(webhookUrl);
  const what = `POST ${showWebhook(webhookUrl)}`;
  try {
    const answer = await httpRequest(
      'chat',
      webhookUrl,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/plain, application/json;q=0.9' },
        body: JSON.stringify(payload),
        maxBytes: 2048,
      },
      { timeoutMs, signal },
      what,
    );
    if (answer.status >= 200 && answer.status < 300) return { ok: true };
    const excerpt = answer.text.replace(/\s+/g, ' ').trim().slice(0, 200);
    const retryable = answer.status >= 500 || answer.status === 408 || answer.status === 429;
    return {
      ok: false,
      retryable,
      error: maskedErrorLine(`chat: ${what} answered HTTP ${answer.status}${excerpt ? `: ${excerpt}` : ''}`, secrets),
    };
  } catch (error) {
    if (error instanceof IntegrationError)
      return {
        ok: false,
        retryable: error.failure === 'unreachable' || error.failure === 'timeout',
        error: maskedErrorLine(error.message, secrets),
      };
    return {
      ok: false,
      retryable: false,
      error: maskedErrorLine(`chat: ${what} failed: ${(error as Error)?.message ?? String(error)}`, secrets),
    };
  }
}
