import { DomainError, ErrorCode } from '../common/errors';

export interface JsonBodyLimits {
  /** Deepest nesting of objects and arrays (`{}` is 1, `{"a":[]}` is 2). */
  maxDepth: number;
  /** Object keys in the whole document. */
  maxKeys: number;
}

const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const COMMA = 0x2c; // ,
const BACKSLASH = 0x5c; // \

function refused(problem: string): DomainError {
  return DomainError.validation([{ field: 'body', problem }]);
}

export function invalidJson(): DomainError {
  return new DomainError(ErrorCode.ValidationFailed, 'body: is not valid JSON', {
    problems: [{ field: 'body', problem: 'is not valid JSON' }],
  });
}

export function emptyJson(): DomainError {
  return new DomainError(ErrorCode.ValidationFailed, 'body: is empty although Content-Type is application/json', {
    problems: [{ field: 'body', problem: 'is empty' }],
  });
}

/** A key as written (between its quotes), decoded only when it holds an escape. */
function keyName(raw: string): string {
  if (!raw.includes('\\')) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw; // JSON.parse of the whole text names it
  }
}

/**
 * Checks the shape of a JSON text before anything turns it into objects, in one pass that
 * only follows strings (and their escapes) and brackets: nesting deeper than `maxDepth` and
 * more than `maxKeys` object keys are refused (a deep document overflows the stack of every
 * recursive walker after the parser: class-transformer, class-validator, zod, our own), and
 * so are the keys that poison prototypes when copied (`__proto__`, `constructor.prototype`;
 * Fastify's default parser refused them as well). Then JSON.parse. Every refusal is a
 * DomainError (400 VALIDATION_FAILED naming the problem).
 */
export function parseJsonBody(text: string, limits: JsonBodyLimits): unknown {
  if (text.length === 0) throw emptyJson();
  const length = text.length;
  let depth = 0;
  let keys = 0;
  // Per open container: 1 object, 2 array; and the key its parent holds it under.
  const kinds = new Uint8Array(limits.maxDepth + 1);
  const heldAs: (string | null)[] = new Array(limits.maxDepth + 1).fill(null);
  let expectKey = false;
  let lastKey: string | null = null;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // The closing quote: the next one not preceded by an odd run of backslashes.
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end === -1) throw invalidJson();
        let backslashes = 0;
        for (let k = end - 1; k > i && text.charCodeAt(k) === BACKSLASH; k--) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      if (expectKey) {
        if (++keys > limits.maxKeys) throw refused(`holds more than ${limits.maxKeys} object keys (OPS_JSON_MAX_KEYS)`);
        const key = keyName(text.slice(i + 1, end));
        if (key === '__proto__') throw refused('must not hold a "__proto__" key');
        if (key === 'prototype' && heldAs[depth] === 'constructor') throw refused('must not hold "constructor.prototype"');
        lastKey = key;
        expectKey = false;
      }
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth >= limits.maxDepth) throw refused(`nested deeper than ${limits.maxDepth} levels (OPS_JSON_MAX_DEPTH)`);
      const parentIsObject = depth > 0 && kinds[depth] === 1;
      depth++;
      kinds[depth] = c === OPEN_OBJECT ? 1 : 2;
      heldAs[depth] = parentIsObject ? lastKey : null;
      expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 0) throw invalidJson();
      depth--;
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = depth > 0 && kinds[depth] === 1;
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw invalidJson();
  }
}
