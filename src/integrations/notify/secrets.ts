/**
 * How the notifier shows its endpoints and keeps their secrets out of results: a webhook
 * URL's path and query carry its token (Slack: /services/T…/B…/<token>), an SMTP URL may
 * carry a password. Targets show scheme, host and port only. Error texts are masked by
 * common/secrets' maskedErrorLine, given every form in which a secret could come back (raw,
 * URL-encoded, base64 as in SMTP AUTH): these functions list those forms.
 */
import { safeDecode } from '../../common/secrets';

/** scheme://host[:port] of a URL, never its user info, path or query ("" when unparsable). */
export function originOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return '';
  }
}

/** A webhook URL as it may be shown: `https://hooks.example.com/…` (the path is the secret). */
export function showWebhook(url: string): string {
  const origin = originOf(url);
  if (!origin) return '(invalid URL)';
  try {
    const parsed = new URL(url);
    return parsed.pathname && parsed.pathname !== '/' ? `${origin}/…` : origin;
  } catch {
    return origin;
  }
}

/** The strings that must never appear in a webhook's results. */
export function webhookSecrets(url: string): string[] {
  const secrets: string[] = [];
  try {
    const parsed = new URL(url);
    // The shown form (scheme://host:port) is no secret; anything more of the URL is.
    if (url.replace(/\/+$/, '') !== originOf(url)) secrets.push(url, parsed.href);
    if (parsed.password) secrets.push(parsed.password, safeDecode(parsed.password));
    if (parsed.pathname && parsed.pathname !== '/') secrets.push(parsed.pathname + parsed.search, parsed.pathname);
    if (parsed.search) secrets.push(parsed.search.slice(1));
    for (const segment of parsed.pathname.split('/')) if (segment.length >= 10) secrets.push(segment, safeDecode(segment));
    for (const value of parsed.searchParams.values()) if (value.length >= 6) secrets.push(value);
  } catch {
    // An unparsable URL is only ever shown as "(invalid URL)"; keep it out of messages whole.
    secrets.push(url);
  }
  return secrets;
}

/** The strings that must never appear in an SMTP server's results. */
export function smtpSecrets(url: string): string[] {
  const secrets: string[] = [];
  try {
    const parsed = new URL(url);
    if (parsed.password || parsed.search) secrets.push(url, parsed.href);
    if (parsed.password) {
      const password = safeDecode(parsed.password);
      const user = safeDecode(parsed.username);
      secrets.push(
        parsed.password,
        password,
        Buffer.from(password).toString('base64'),
        Buffer.from(`\u0000${user}\u0000${password}`).toString('base64'),
      );
    }
    for (const [key, value] of parsed.searchParams) if (/pass|secret|token|key/i.test(key) && value) secrets.push(value);
  } catch {
    // An unparsable URL is only ever shown as "(invalid URL)"; keep it out of messages whole.
    secrets.push(url);
  }
  return secrets;
}
