import { describe, it } from 'node:test';
import { expect } from 'expect';
import fc from 'fast-check';
import { DomainError } from '../../src/common/errors';
import { decodeCursor } from '../../src/common/pagination';
import { findUnstorable, safeKey } from '../../src/common/storable';
import { parseJsonBody } from '../../src/http/json-body';

const LIMITS = { maxDepth: 32, maxKeys: 10_000 };
const SEED = 20260119;

function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

function keysOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + keysOf(v), 0);
  return Object.entries(value).reduce((n, [, v]) => n + 1 + keysOf(v), 0);
}

/** Holds a "__proto__" key or "constructor" holding "prototype" (fast-check generates such keys on purpose). */
function poisoned(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(poisoned);
  return Object.entries(value).some(
    ([k, v]) =>
      k === '__proto__' ||
      (k === 'constructor' && v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, 'prototype')) ||
      poisoned(v),
  );
}

function refusal(text: string, limits = LIMITS): string | undefined {
  try {
    parseJsonBody(text, limits);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return (error as DomainError).message;
  }
}

describe('JSON body parser: limits checked on the text', () => {
  it('parses what JSON.parse parses, and counts depth and keys as the parsed value has them (strings with brackets, quotes and escapes)', () => {
    const tricky = fc.constantFrom('{', '}', '[', ']', '"', '\\', '\\"', '"}', '\\\\', ':', ',', '\u2028', 'a"b{c', '\\u0022');
    const text = fc.oneof(
      fc.string(),
      tricky,
      fc.array(tricky).map((parts) => parts.join('')),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(text, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 20 }), (v, maxDepth, maxKeys) => {
        const json = JSON.stringify(v);
        const message = refusal(json, { maxDepth, maxKeys });
        const tooDeep = `body: nested deeper than ${maxDepth} levels (OPS_JSON_MAX_DEPTH)`;
        const tooMany = `body: holds more than ${maxKeys} object keys (OPS_JSON_MAX_KEYS)`;
        // Whichever the scan meets first when several apply.
        if (poisoned(v)) expect(message).toMatch(/^body: (must not hold|nested deeper|holds more)/);
        else if (depthOf(v) > maxDepth && keysOf(v) > maxKeys) expect([tooDeep, tooMany]).toContain(message);
        else if (depthOf(v) > maxDepth) expect(message).toBe(tooDeep);
        else if (keysOf(v) > maxKeys) expect(message).toBe(tooMany);
        else {
          expect(message).toBeUndefined();
          expect(parseJsonBody(json, { maxDepth, maxKeys })).toEqual(JSON.parse(json));
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('refuses nesting beyond the limit, keeps nesting at it', () => {
    expect(refusal(`${'['.repeat(32)}${']'.repeat(32)}`)).toBeUndefined();
    expect(refusal(`${'['.repeat(33)}${']'.repeat(33)}`)).toBe('body: nested deeper than 32 levels (OPS_JSON_MAX_DEPTH)');
    expect(refusal(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`)).toBe('body: nested deeper than 32 levels (OPS_JSON_MAX_DEPTH)');
    expect(refusal(`["${'['.repeat(100)}"]`)).toBeUndefined(); // brackets in a string
  });

  it('counts duplicate keys too', () => {
    expect(refusal(`{${'"k":0,'.repeat(9_999)}"k":0}`)).toBeUndefined();
    expect(refusal(`{${'"k":0,'.repeat(10_000)}"k":0}`)).toBe('body: holds more than 10000 object keys (OPS_JSON_MAX_KEYS)');
  });

  it('refuses __proto__ (also escaped) and constructor.prototype as keys, not as values', () => {
    expect(refusal('{"__proto__":{}}')).toBe('body: must not hold a "__proto__" key');
    expect(refusal('[{"a":{"\\u005f\\u005fproto__":1}}]')).toBe('body: must not hold a "__proto__" key');
    expect(refusal('{"constructor":{"prototype":{}}}')).toBe('body: must not hold "constructor.prototype"');
    expect(refusal('{"constructor":{"a":1,"prototype":null}}')).toBe('body: must not hold "constructor.prototype"');
    expect(refusal('{"a":"__proto__","constructor":"prototype","b":{"prototype":1},"c":[{"constructor":1}]}')).toBeUndefined();
    expect(refusal('{"constructor":[{"prototype":1}]}')).toBeUndefined();
  });

  it("keeps the error shapes of the adapters' parsers: empty, malformed", () => {
    expect(refusal('')).toBe('body: is empty although Content-Type is application/json');
    for (const bad of ['{', '{"a":1}}', '}', ']', '"unterminated', '{"a":1e}', 'NaN', ' '])
      expect(refusal(bad)).toBe('body: is not valid JSON');
  });
});

describe('storable: text and numbers PostgreSQL can hold', () => {
  it('names the first bad value or key by its path, escaping the key', () => {
    expect(findUnstorable({ a: [{ b: 'ok' }, { c: 'x\ud800' }] })).toEqual({
      field: 'a.1.c',
      problem: 'must be valid Unicode text (a lone surrogate)',
    });
    expect(findUnstorable({ alerts: [{ labels: { 'a\u0000b': 'x' } }] })).toEqual({
      field: 'alerts.0.labels.a\\u0000b',
      problem: 'key must not contain NUL characters',
    });
    expect(findUnstorable({ '\udc00': 1 }, 'parameters')).toEqual({
      field: 'parameters.\\udc00',
      problem: 'key must be valid Unicode text (a lone surrogate)',
    });
    expect(findUnstorable('a\u0000', 'id')).toEqual({ field: 'id', problem: 'must not contain NUL characters' });
    expect(findUnstorable({ n: Infinity })?.problem).toBe('must be a finite number');
    expect(findUnstorable({ n: 2 ** 53 })?.problem).toBe('must be between -9007199254740991 and 9007199254740991');
    expect(findUnstorable({ ok: ['😀', 'e\u0301', -0, 2 ** 53 - 1, 1.5, null, true] })).toBeUndefined();
    expect(safeKey('x'.repeat(100))).toBe(`${'x'.repeat(64)}…`);
  });

  it('walks plain data only, and refuses nesting it cannot walk', () => {
    class Request {
      body = { a: '\u0000' };
    }
    expect(findUnstorable({ req: new Request() })).toBeUndefined();
    expect(findUnstorable(Object.assign(Object.create(null), { a: '\u0000' }))?.field).toBe('a');
    let deep: unknown = 'x';
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(findUnstorable(deep)?.problem).toBe('is nested deeper than 64 levels');
  });
});

describe('cursors: parts range-checked before they reach PostgreSQL', () => {
  const cursor = (parts: unknown[]) => Buffer.from(JSON.stringify(parts)).toString('base64url');
  const refused = (c: string, kinds: Parameters<typeof decodeCursor>[1]) =>
    expect(() => decodeCursor(c, kinds)).toThrow('cursor: must be the nextCursor of a previous page');

  it('integer parts up to 2^63-1', () => {
    expect(decodeCursor(cursor(['9223372036854775807']), ['integer'])).toEqual(['9223372036854775807']);
    refused(cursor(['9223372036854775808']), ['integer']);
    refused(cursor(['9999999999999999999']), ['integer']);
  });

  it('date parts as toISOString writes them, years 1 to 9999', () => {
    const id = '00000000-0000-4000-8000-000000000000';
    expect(decodeCursor(cursor(['0001-01-01T00:00:00.000Z', id]), ['date', 'uuid'])).toHaveLength(2);
    expect(decodeCursor(cursor(['9999-12-31T23:59:59.999Z', id]), ['date', 'uuid'])).toHaveLength(2);
    for (const date of [
      '0000-01-01T00:00:00.000Z',
      '2026-02-31T00:00:00.000Z',
      '2026-01-19T24:00:00.000Z',
      '2026-01-19T00:00:00Z',
      '+010000-01-01T00:00:00.000Z',
    ])
      refused(cursor([date, id]), ['date', 'uuid']);
  });

  it('text parts storable', () => {
    expect(decodeCursor(cursor(['ops.alice']), ['text'])).toEqual(['ops.alice']);
    refused(Buffer.from('["\\ud800"]').toString('base64url'), ['text']);
    refused(cursor(['a\u0000']), ['text']);
  });
});
