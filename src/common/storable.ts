import { FieldProblem } from './errors';

/**
 * What PostgreSQL (text, jsonb) and the rest of the stack can hold, checked once for every
 * input: text without NUL characters (PostgreSQL refuses them in text and jsonb) and without
 * lone UTF-16 surrogates (jsonb refuses their escapes; text would silently get U+FFFD), and
 * numbers that are finite and exact (within ±Number.MAX_SAFE_INTEGER). Keys like values.
 */

/** Nesting deeper than this is refused (JSON bodies are bounded by OPS_JSON_MAX_DEPTH, at most 64, before). */
export const STORABLE_MAX_DEPTH = 64;

/** Why a string cannot be stored, or undefined. */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'NUL characters';
  if (!text.isWellFormed()) return 'a lone surrogate';
  return undefined;
}

/** Why a number cannot be stored, or undefined. */
export function numberProblem(value: number): string | undefined {
  if (!Number.isFinite(value)) return 'must be a finite number';
  if (Math.abs(value) > Number.MAX_SAFE_INTEGER) return `must be between -${Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`;
  return undefined;
}

const UNSAFE_IN_PATH =
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const MAX_SEGMENT = 64;

/** A key as it may be shown in a message or a log line: control and bidi characters and lone surrogates escaped (\u0000), long keys cut. */
export function safeKey(key: string): string {
  const cut = key.length > MAX_SEGMENT ? `${key.slice(0, MAX_SEGMENT)}…` : key;
  return cut.replace(UNSAFE_IN_PATH, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Parsed input (JSON bodies, query strings, GraphQL arguments): arrays, plain objects, objects
 * without a prototype and those of an empty one (Fastify's query string parser makes these).
 * Objects of a class (the raw request that @CurrentRequest hands a handler; DTO instances are
 * checked before they are made) are not what the client sent and are not walked.
 */
export function isPlainData(value: object): boolean {
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null;
}

/**
 * The first part of a value that cannot be stored, named by its dotted path under `path`
 * (`alerts.0.labels.a\u0000b`: keys shown with safeKey), or undefined. Walks plain data only
 * (see isPlainData); the path is only built for the part found.
 */
export function findUnstorable(value: unknown, path = ''): FieldProblem | undefined {
  const found = walk(value, 0);
  if (!found) return undefined;
  const segments = found.at.reverse();
  if (path) segments.unshift(path);
  return { field: segments.join('.'), problem: found.problem };
}

interface Found {
  /** Path segments, innermost first (pushed while unwinding). */
  at: string[];
  problem: string;
}

function walk(value: unknown, depth: number): Found | undefined {
  if (typeof value === 'string') {
    const problem = textProblem(value);
    return problem === undefined
      ? undefined
      : { at: [], problem: problem === 'NUL characters' ? 'must not contain NUL characters' : `must be valid Unicode text (${problem})` };
  }
  if (typeof value === 'number') {
    const problem = numberProblem(value);
    return problem === undefined ? undefined : { at: [], problem };
  }
  if (value === null || typeof value !== 'object' || !isPlainData(value)) return undefined;
  if (depth >= STORABLE_MAX_DEPTH) return { at: [], problem: `is nested deeper than ${STORABLE_MAX_DEPTH} levels` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = walk(value[i], depth + 1);
      if (found) {
        found.at.push(String(i));
        return found;
      }
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const problem = textProblem(key);
    if (problem !== undefined) {
      return {
        at: [safeKey(key)],
        problem: problem === 'NUL characters' ? 'key must not contain NUL characters' : `key must be valid Unicode text (${problem})`,
      };
    }
    const found = walk((value as Record<string, unknown>)[key], depth + 1);
    if (found) {
      found.at.push(safeKey(key));
      return found;
    }
  }
  return undefined;
}
