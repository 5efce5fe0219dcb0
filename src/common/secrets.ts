/**
 * Secrets never leave the process: these helpers mask them in everything that is
 * returned, logged or audited.
 */
export const MASK = '****';

const SECRET_KEY = /(pass(word)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key|webhook)/i;

/** A URL with its password (and, for webhook-like URLs, its path) masked. */
export function maskUrl(value: string, options: { maskPath?: boolean } = {}): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return value;
  }
  const secretParams = [...parsed.searchParams.keys()].filter((k) => SECRET_KEY.test(k) || /^(sslkey|sslpassword)$/i.test(k));
  if (!parsed.password && secretParams.length === 0 && !(options.maskPath && parsed.pathname && parsed.pathname !== '/')) return value;
  if (parsed.password) parsed.password = MASK;
  for (const key of secretParams) parsed.searchParams.set(key, MASK);
  if (options.maskPath && parsed.pathname && parsed.pathname !== '/') {
    parsed.pathname = `/${MASK}`;
    parsed.search = '';
  }
  // URL serialisation percent-encodes the mask; keep it readable.
  return parsed.toString().replaceAll('%2A%2A%2A%2A', MASK);
}

/** True when a string looks like a URL carrying credentials. */
function hasUrlCredentials(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]*@/i.test(value);
}

/**
 * Free text (a log line, an error) with credentials masked wherever they appear: the
 * password of every `scheme://user:password@` (even one `new URL` cannot parse, e.g. with a
 * `/` or `#` in the password) and libpq-style `password=…`.
 */
export function maskCredentialsInText(text: string): string {
  if (!text.includes('@') && !/password/i.test(text)) return text;
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]*:)([^\s@'"]+)@/gi, `$1${MASK}@`)
    .replace(/(\bpassword\s*=\s*)('[^']*'|"[^"]*"|[^\s'"]+)/gi, `$1${MASK}`);
}

/**
 * A deep copy with every value under a secret-looking key replaced by the mask and
 * credentials in every string masked. Bounded in depth so that hostile input cannot blow up.
 */
export function maskSecrets<T>(value: T, depth = 0): T {
  if (depth > 8) return '[too deep]' as unknown as T;
  if (typeof value === 'string')
    return (hasUrlCredentials(value) ? maskCredentialsInText(maskUrl(value)) : maskCredentialsInText(value)) as unknown as T;
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, depth + 1)) as unknown as T;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (SECRET_KEY.test(key) && item !== null && item !== undefined && item !== '') out[key] = MASK;
      else out[key] = maskSecrets(item, depth + 1);
    }
    return out as T;
  }
  return value;
}

/** decodeURIComponent, or the value itself when it is not valid percent-encoding. */
export function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Text with every occurrence of the given secret values replaced by the mask, raw and
 * URL-encoded, longest first (so that a URL is masked whole before its parts are). Values
 * shorter than `minLength` are left alone: they would mask ordinary words.
 */
export function maskValues(text: string, secrets: readonly (string | undefined)[], minLength = 1): string {
  const ordered = [...new Set(secrets.filter((s): s is string => !!s && s.length >= minLength))].sort((a, b) => b.length - a.length);
  let out = text;
  for (const secret of ordered) {
    out = out.split(secret).join(MASK);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join(MASK);
  }
  return out;
}

/**
 * An error text as an outside system's result may carry it: on one line, bounded, with the
 * given secret values (of 3 characters or more) masked.
 */
export function maskedErrorLine(text: string, secrets: readonly string[]): string {
  return maskValues(text.replace(/\s+/g, ' ').trim(), secrets, 3).slice(0, 500);
}

/** Log lines with the given secret values and any credentials masked. */
export function maskLogLines(lines: readonly string[], secrets: readonly string[]): string[] {
  return lines.map((line) => maskCredentialsInText(maskValues(line, secrets)));
}

/**
 * The secret values of a container's environment (variables named like secrets, and the
 * passwords inside URL values), to be masked out of its log lines wherever they appear.
 */
export function environmentSecrets(env: Record<string, string>): string[] {
  const found = new Set<string>();
  for (const [key, value] of Object.entries(env)) {
    if (!value) continue;
    if (/(pass|secret|token|api[-_]?key|private|credential)/i.test(key) && value.length >= 4) found.add(value);
    const password = /^[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:([^\s@]+)@/i.exec(value)?.[1];
    if (password && password.length >= 3) found.add(password).add(safeDecode(password));
  }
  return [...found].sort((a, b) => b.length - a.length);
}
