/**
 * Fuzz test of the boundary: every REST operation with a body, path or query parameters (from
 * the committed openapi.json), every procedure's parameters (their JSON Schema from
 * GET /api/v1/procedures) and every GraphQL query and mutation field with arguments (from the
 * committed schema.gql) gets generated hostile input as a signed-in admin, so that the guard
 * lets it through to validation: nesting beyond and just below OPS_JSON_MAX_DEPTH, many and
 * huge keys, NUL and lone surrogates in keys and values, numbers out of range, wrong types,
 * __proto__/constructor keys, empty and huge strings, schema-shaped values with one part
 * mutated. The public login and raw POST /graphql bodies get the same without a token.
 *
 * Every answer: no 5xx (503 DEPENDENCY_UNAVAILABLE excepted: every dependency of this app is
 * 127.0.0.1:1 on purpose), a JSON error body for a 4xx (GraphQL: no INTERNAL_SERVER_ERROR),
 * and a refused request writes nothing: the row count of every table but audit_entries is
 * unchanged, and audit_entries too when the input was refused as invalid.
 *
 * Reproduce: FUZZ_SEED=<seed> (printed), FUZZ_ONLY=<part of an operation's name>, FUZZ_RUNS=<n>.
 * Safety: the app's inventory points every URL, the Docker engine, the ERP database and Redis,
 * SMTP and chat at 127.0.0.1:1 or a missing socket, and its directories at a temporary one;
 * the test checks this before it sends anything.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'expect';
import fc from 'fast-check';
import {
  buildSchema,
  getNamedType,
  GraphQLField,
  GraphQLInputType,
  GraphQLObjectType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
} from 'graphql';
import { Client } from 'pg';
import { projectRoot } from '../src/common/paths';
import { INVENTORY } from '../src/config/config.module';
import { envName, URL_KEYS } from '../src/config/inventory.loader';
import { Inventory } from '../src/config/inventory.schema';
import { Role } from '../src/common/rights';
import { dbUrl } from './helpers/db';
import { startTestApp, TestApp } from './helpers/test-app';

const SEED = Number(process.env.FUZZ_SEED ?? 20260119);
const RUNS = Number(process.env.FUZZ_RUNS ?? 15);
const ONLY = process.env.FUZZ_ONLY;
const MAX_DEPTH = 32;
const MAX_KEYS = 10_000;
const BODY_LIMIT = 102_400;
const NOWHERE = 'http://127.0.0.1:1';

const root = projectRoot();
const openapi = JSON.parse(readFileSync(join(root, 'openapi.json'), 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};
const gqlSchema = buildSchema(readFileSync(join(root, 'schema.gql'), 'utf8'));

type Schema = Record<string, any>;
interface Operation {
  'x-required-right'?: { right: string };
  parameters?: { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema?: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  security?: unknown[];
}

/** Public operations are sent without a token (the others as a signed-in admin). */
const isPublicOperation = (op: Operation) => op['x-required-right']?.right === 'public';

// ---------------------------------------------------------------------------------------------
// JSON texts that JSON.stringify cannot write: raw tokens (1e400, -0, 2^63) and objects whose
// entries are listed (duplicate keys, "__proto__" as a key).

class Raw {
  constructor(readonly text: string) {}
}
class Obj {
  constructor(readonly entries: [string, unknown][]) {}
}

function toJson(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Obj) {
    return `{${value.entries
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`)
      .join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : toJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') return toJson(new Obj(Object.entries(value)));
  if (value === undefined) return 'null';
  return JSON.stringify(value);
}

function entriesOf(value: unknown): [string, unknown][] {
  if (value instanceof Obj) return value.entries;
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Raw)) return Object.entries(value);
  return [];
}

const isContainer = (v: unknown) => Array.isArray(v) || v instanceof Obj || (v !== null && typeof v === 'object' && !(v instanceof Raw));

// ---------------------------------------------------------------------------------------------
// Hostile parts.

const deepArray = (n: number) => new Raw('['.repeat(n) + ']'.repeat(n));
const deepObject = (n: number) => new Raw('{"a":'.repeat(n) + '0' + '}'.repeat(n));
const manyKeys = (n: number, distinct: boolean) =>
  new Raw(`{${Array.from({ length: n }, (_, i) => `"${distinct ? i.toString(36) : 'k'}":0`).join(',')}}`);

const UNSTORABLE = ['\u0000', 'a\u0000b', '\ud800', 'x\udfff', '\udc00\ud800', 'ok\ud83d', '\ud800\u0000'];
const NASTY_STRINGS = [
  '',
  ' ',
  'x'.repeat(300),
  'x'.repeat(5000),
  '../../etc/passwd',
  "' OR 1=1 --",
  '%00',
  '\\u0000',
  '$gt',
  '__proto__',
  'constructor',
  '\u202e\u0007',
  '😀',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e999',
  '-0',
  '0x1F',
  '9223372036854775808',
  '9007199254740993',
  ' 1',
  '1.5',
  '2026-02-31',
  '0000-01-01T00:00:00Z',
  '10000-01-01',
  '+275760-09-13T00:00:00Z',
  'true',
  'null',
  '[]',
  '{}',
  'a=b',
  'alertname=~".*"',
];
const NUMBERS: unknown[] = [
  new Raw('1e308'),
  new Raw('-1e308'),
  new Raw('1e400'),
  new Raw('-1e400'),
  new Raw('-0'),
  new Raw('9223372036854775808'),
  new Raw('9007199254740993'),
  new Raw('-9007199254740993'),
  new Raw('4294967296'),
  new Raw('2147483648'),
  new Raw('0.5'),
  new Raw('1e-400'),
  -1,
  0,
  2 ** 31 - 1,
];
const WRONG_TYPES: unknown[] = [null, true, false, 0, 1, [], {}, 'x', [[]], [null], { a: 1 }];
const HOSTILE_KEYS = [
  'a\u0000b',
  '\u0000',
  '\ud800',
  'x\udfff',
  'x'.repeat(20_000),
  '__proto__',
  'constructor',
  'prototype',
  '',
  ' ',
  '$where',
  'a.b',
  '0',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '😀',
];

const hostileKey = fc.constantFrom(...HOSTILE_KEYS);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...UNSTORABLE),
  fc.constantFrom(...NASTY_STRINGS),
  fc.constantFrom(...NUMBERS),
  fc.constantFrom(...WRONG_TYPES),
  // Nesting that, with the level around it, is just below, at and beyond the limit.
  fc.constantFrom(MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, 5000).chain((n) => fc.constantFrom(deepArray(n), deepObject(n))),
  hostileKey.map((k) => new Obj([[k, 'x']])),
  fc.constant(new Obj([['prototype', { polluted: true }]])),
  fc.constant('x'.repeat(60_000)),
);

/** Whole bodies that no schema produces. */
const HOSTILE_BODIES: string[] = [
  deepObject(MAX_DEPTH).text,
  deepObject(MAX_DEPTH + 1).text,
  deepArray(MAX_DEPTH).text,
  deepArray(MAX_DEPTH + 1).text,
  deepArray(60_000).text, // over the body limit as well
  '{"a":' + deepArray(MAX_DEPTH - 1).text + '}',
  '{"a":' + deepArray(MAX_DEPTH).text + '}',
  manyKeys(MAX_KEYS + 1, false).text,
  manyKeys(9_000, true).text,
  `{"${'k'.repeat(90_000)}":1}`,
  `{"${'k'.repeat(200_000)}":1}`,
  '{"__proto__":{"isAdmin":true}}',
  '{"a":{"__proto__":{"x":1}}}',
  '{"\\u005f_proto__":{}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"a":[{"constructor":{"prototype":{}}}]}',
  '',
  ' ',
  'null',
  'true',
  '0',
  '"x"',
  '[]',
  '[{}]',
  '{',
  '{"a":1}}',
  '\ufeff{}',
  '{"a":1e400}',
  '{"a":-1e400}',
  '{"a":"\\ud800"}',
  '{"\\ud800":1}',
  '{"\\u0000":1}',
  '{"a":"\\u0000"}',
  '{"a":-0}',
  '{"a":9223372036854775808}',
  'NaN',
  '{"a":NaN}',
  '{"a":"x"} {"b":1}',
  '{"a\\"":1,"b\\\\":"\\\\"}',
];

// ---------------------------------------------------------------------------------------------
// Schema-shaped values.

let idPool: string[] = [];
const B64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const UUID = '00000000-0000-4000-8000-000000000000';
const cursorArb = fc.constantFrom(
  B64(['1']),
  B64(['9223372036854775807']),
  B64(['9223372036854775808']),
  B64(['9999999999999999999']),
  B64(['2026-01-19T00:00:00.000Z', UUID]),
  B64(['0000-01-01T00:00:00.000Z', UUID]),
  B64(['9999-12-31T23:59:59.999Z', UUID]),
  B64(['2026-02-31T00:00:00.000Z', UUID]),
  B64(['2026-01-19T00:00:00Z', UUID]),
  B64('["\\ud800"]'),
  B64('["a\\u0000"]'),
  B64(['admin']),
  B64('["x"]'),
  B64('not json'),
  B64('[1e400]'),
  B64([{ a: 1 }]),
  'x'.repeat(200),
  '!!',
);
const dateArb = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true });

function stringFor(name: string, schema: Schema = {}): fc.Arbitrary<unknown> {
  if (/cursor/i.test(name)) return cursorArb;
  if (/(^|_)date$|Date$/.test(name) || schema.format === 'date') return dateArb.map((d) => d.toISOString().slice(0, 10));
  if (/^(from|to|startsAt|endsAt)$/.test(name) || schema.format === 'date-time') return dateArb.map((d) => d.toISOString());
  if (/id$/i.test(name) || schema.format === 'uuid') return fc.oneof(fc.uuid(), fc.constantFrom(...(idPool.length ? idPool : [UUID])));
  if (/^(confirm)$/.test(name)) return fc.constantFrom('none', 'x', '');
  if (/fingerprint/i.test(name)) return fc.stringMatching(/^[0-9a-f]{1,16}$/);
  if (schema.pattern && schema.pattern.length < 200) {
    try {
      return fc.stringMatching(new RegExp(schema.pattern)).map((s) => s.slice(0, 300));
    } catch {
      // fall through
    }
  }
  return fc.string({ maxLength: 12 });
}

function resolveSchema(schema: Schema | undefined): Schema {
  let s = schema ?? {};
  for (let i = 0; i < 10 && s.$ref; i++) s = openapi.components.schemas[String(s.$ref).replace('#/components/schemas/', '')] ?? {};
  return s;
}

function fromSchema(input: Schema | undefined, name = '', depth = 0): fc.Arbitrary<unknown> {
  const schema = resolveSchema(input);
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  if (schema.const !== undefined) return fc.constant(schema.const);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...(alternatives as Schema[]).map((s) => fromSchema(s, name, depth)));
  if (schema.allOf) return fromSchema(schema.allOf[0], name, depth);
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type;
  switch (type) {
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -5, max: schema.maximum ?? Math.max(400, (schema.minimum ?? 0) + 400) });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'string':
      return stringFor(name, schema);
    case 'array':
      return depth > 4 ? fc.constant([]) : fc.array(fromSchema(schema.items, name, depth + 1), { maxLength: 3 });
    case 'object':
    case undefined: {
      if (schema.properties) {
        const props = Object.fromEntries(
          Object.entries(schema.properties as Record<string, Schema>).map(([key, s]) => [
            key,
            depth > 4 ? fc.constant(null) : fromSchema(s, key, depth + 1),
          ]),
        );
        return fc.record(props, { requiredKeys: (schema.required as string[] | undefined) ?? [] });
      }
      if (type === 'object' || schema.additionalProperties) {
        const inner =
          schema.additionalProperties && schema.additionalProperties !== true
            ? fromSchema(schema.additionalProperties, name, depth + 1)
            : fc.string({ maxLength: 8 });
        return fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), inner, { maxKeys: 3 });
      }
      return fc.jsonValue({ maxDepth: 2 });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** One change to a schema-shaped value: a part replaced, a key added, a part dropped, or none. */
interface Mutation {
  kind: 'replace' | 'addKey' | 'drop' | 'none';
  at: number;
  key: string;
  value: unknown;
}
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom<Mutation['kind']>('replace', 'replace', 'addKey', 'drop', 'none'),
  at: fc.nat(),
  key: fc.oneof(hostileKey, fc.string({ maxLength: 6 })),
  value: hostileValue,
});

function pathsOf(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (prefix.length > 6) return out;
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...prefix, i], out));
  else for (const [k, v] of entriesOf(value)) pathsOf(v, [...prefix, k], out);
  return out;
}

function update(value: unknown, path: (string | number)[], fn: (v: unknown) => unknown): unknown {
  if (path.length === 0) return fn(value);
  const [head, ...rest] = path;
  if (Array.isArray(value)) {
    const copy = value.slice();
    copy[head as number] = update(copy[head as number], rest, fn);
    return copy;
  }
  return new Obj(entriesOf(value).map(([k, v]) => [k, k === head ? update(v, rest, fn) : v]));
}

function mutate(value: unknown, m: Mutation): unknown {
  if (m.kind === 'none') return value;
  const paths = pathsOf(value);
  const path = paths[m.at % paths.length];
  if (m.kind === 'replace') return update(value, path, () => m.value);
  if (m.kind === 'drop') return path.length ? update(value, path, () => undefined) : value;
  const containers = paths.filter((p) => {
    let node: unknown = value;
    for (const part of p) node = Array.isArray(node) ? node[part as number] : entriesOf(node).find(([k]) => k === part)?.[1];
    return isContainer(node) && !Array.isArray(node);
  });
  const target = containers.length ? containers[m.at % containers.length] : [];
  return update(value, target, (v) => new Obj([...entriesOf(v), [m.key, m.value]]));
}

// ---------------------------------------------------------------------------------------------
// Requests.

/** A generated value as query or path text (objects, also those without a prototype, as JSON). */
function str(value: unknown): string {
  return value !== null && typeof value === 'object' ? toJson(value) : String(value);
}

/** Percent-encoding that also writes lone surrogates (as their 3-byte WTF-8 form). */
function enc(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const isHigh = c >= 0xd800 && c <= 0xdbff;
    const next = text.charCodeAt(i + 1);
    if (isHigh && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(text.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else {
      out += encodeURIComponent(text[i]);
    }
  }
  return out;
}

const HOSTILE_SEGMENTS = [
  '%00',
  '%ED%A0%80',
  '%C0%AF',
  '%FF',
  '..',
  '%2e%2e%2f',
  'x'.repeat(3000),
  '%F0%9F%98%80',
  '%',
  '%ZZ',
  '%20',
  '0',
  '-1',
  'null',
  UUID.toUpperCase(),
  `${UUID}%00`,
  'a%2Fb',
];
const queryValueArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...UNSTORABLE, ...NASTY_STRINGS).map(enc),
  fc.constantFrom('%00', '%ED%A0%80', '%FF', '%', '1e400', '-0', '9223372036854775808', 'x'.repeat(5000)),
);

interface FuzzRequest {
  name: string;
  method: 'get' | 'post' | 'patch' | 'delete' | 'put';
  url: string;
  body?: string;
  contentType?: string;
  token: boolean;
  graphql?: boolean;
}

function describeRequest(r: FuzzRequest): string {
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
  return `${r.method.toUpperCase()} ${cut(r.url, 300)}${r.token ? '' : ' (no token)'}${r.body !== undefined ? ` body ${cut(JSON.stringify(r.body), 1500)}` : ''}`;
}

function withToString(r: FuzzRequest): FuzzRequest {
  Object.defineProperty(r, fc.toStringMethod, { value: () => describeRequest(r), enumerable: false });
  return r;
}

function restRequestArb(
  method: string,
  path: string,
  op: Operation,
  token: boolean,
  bodyOverride?: fc.Arbitrary<unknown>,
): fc.Arbitrary<FuzzRequest> {
  const params = op.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const queryParams = params.filter((p) => p.in === 'query');
  const segment = (name: string) =>
    fc.oneof(
      { weight: 3, arbitrary: stringFor(name).map((v) => enc(str(v))) },
      { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) },
    );
  const pathArb = fc
    .tuple(...pathParams.map((p) => segment(p.name)))
    .map((values) => pathParams.reduce((acc, p, i) => acc.replace(`{${p.name}}`, values[i]), path));
  const oneQuery = (p: (typeof queryParams)[number]) =>
    fc.option(
      fc.oneof(
        {
          weight: 3,
          arbitrary: fromSchema(p.schema, p.name).map((v) =>
            Array.isArray(v) ? v.map((x) => `${p.name}=${enc(str(x))}`).join('&') : `${p.name}=${enc(str(v))}`,
          ),
        },
        { weight: 2, arbitrary: queryValueArb.map((v) => `${p.name}=${v}`) },
        { weight: 1, arbitrary: fc.tuple(queryValueArb, queryValueArb).map(([a, b]) => `${p.name}=${a}&${p.name}=${b}`) },
      ),
      { nil: undefined, freq: 2 },
    );
  const extraQuery = fc.option(
    fc.tuple(hostileKey, queryValueArb).map(([k, v]) => `${enc(k)}=${v}`),
    { nil: undefined, freq: 4 },
  );
  const queryArb = fc
    .tuple(fc.tuple(...queryParams.map(oneQuery)), extraQuery)
    .map(([values, extra]) => [...values, extra].filter((v) => v !== undefined).join('&'));
  const bodySchema = op.requestBody?.content['application/json']?.schema;
  const shaped = bodyOverride ?? (bodySchema ? fromSchema(bodySchema) : undefined);
  const bodyArb: fc.Arbitrary<string | undefined> = shaped
    ? fc.oneof(
        { weight: 6, arbitrary: fc.tuple(shaped, mutationArb).map(([v, m]) => toJson(mutate(v, m))) },
        { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_BODIES) },
      )
    : fc.constant(undefined);
  return fc.tuple(pathArb, queryArb, bodyArb).map(([p, q, body]) =>
    withToString({
      name: `${method.toUpperCase()} ${path}`,
      method: method as FuzzRequest['method'],
      url: q ? `${p}?${q}` : p,
      body,
      contentType: body !== undefined ? 'application/json' : undefined,
      token,
    }),
  );
}

// GraphQL -------------------------------------------------------------------------------------

function gqlValue(type: GraphQLInputType, name: string, depth = 0): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return gqlValue(type.ofType, name, depth);
  if (isListType(type)) return fc.array(gqlValue(type.ofType as GraphQLInputType, name, depth + 1), { maxLength: 3 });
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    if (depth > 4) return fc.constant({});
    return fc.record(Object.fromEntries(fields.map((f) => [f.name, gqlValue(f.type, f.name, depth + 1)])), {
      requiredKeys: fields.filter((f) => isNonNullType(f.type)).map((f) => f.name),
    });
  }
  if (isEnumType(type)) return fc.constantFrom(...type.getValues().map((v) => v.name));
  switch (type.name) {
    case 'Int':
      return fc.integer({ min: -2, max: 300 });
    case 'Float':
      return fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
    case 'Boolean':
      return fc.boolean();
    case 'JSON':
      return fc.jsonValue({ maxDepth: 2 });
    case 'DateTime':
      return dateArb.map((d) => d.toISOString());
    default:
      return stringFor(name);
  }
}

function selectionFor(field: GraphQLField<unknown, unknown>): string {
  const named = getNamedType(field.type);
  return isObjectType(named) || isInterfaceType(named) || isUnionType(named) ? ' { __typename }' : '';
}

/** A hostile literal for an argument written into the document (not a variable). */
const literalArb = fc.oneof(
  fc.constantFrom(
    '"\\u0000"',
    '"a\\u0000b"',
    '"\\uD800"',
    '"\\uDFFF"',
    '"""\u0000"""',
    '1e400',
    '-1e400',
    '9223372036854775808',
    '2147483648',
    '1.5',
    'null',
    '[]',
    '{}',
    '{ a: "\\u0000" }',
    '{ parameters: { matchers: [{ name: "a", value: "\\u0000" }] } }',
    `{ parameters: ${'['.repeat(MAX_DEPTH + 40)}${']'.repeat(MAX_DEPTH + 40)} }`,
    // Just within the parser's 1000 tokens: the deepest nesting a document can carry.
    `{ parameters: ${'['.repeat(480)}${']'.repeat(480)} }`,
    `{ parameters: ${'{a:'.repeat(230)}1${'}'.repeat(230)} }`,
    `${'['.repeat(490)}${']'.repeat(490)}`,
    // Beyond it.
    `{ parameters: ${'['.repeat(1900)}${']'.repeat(1900)} }`,
    `${'['.repeat(3000)}${']'.repeat(3000)}`,
    `"${'x'.repeat(90_000)}"`,
  ),
);

function gqlRequestArb(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): fc.Arbitrary<FuzzRequest> {
  const args = field.args;
  const varDefs = args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const viaVariables = `${kind} Fuzz(${varDefs}) { ${field.name}(${args.map((a) => `${a.name}: $${a.name}`).join(', ')})${selectionFor(field)} }`;
  const varsArb = fc.record(Object.fromEntries(args.map((a) => [a.name, gqlValue(a.type, a.name)])), {
    requiredKeys: args.filter((a) => isNonNullType(a.type)).map((a) => a.name),
  });
  const variables = fc
    .tuple(varsArb, mutationArb)
    .map(([vars, m]) => `{"query":${JSON.stringify(viaVariables)},"variables":${toJson(mutate(vars, m))}}`);
  const literal = fc.tuple(fc.nat(), literalArb).map(([i, lit]) => {
    const target = args[i % args.length];
    const rest = args.filter((a) => a !== target && isNonNullType(a.type));
    const restDefs = rest.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
    const doc = `${kind}${restDefs ? ` Fuzz(${restDefs})` : ''} { ${field.name}(${[`${target.name}: ${lit}`, ...rest.map((a) => `${a.name}: $${a.name}`)].join(', ')})${selectionFor(field)} }`;
    const vars = Object.fromEntries(rest.map((a) => [a.name, /id$/i.test(a.name) ? UUID : 'x']));
    return `{"query":${JSON.stringify(doc)},"variables":${JSON.stringify(vars)}}`;
  });
  return fc.oneof({ weight: 3, arbitrary: variables }, { weight: 1, arbitrary: literal }).map((body) =>
    withToString({
      name: `GraphQL ${kind} ${field.name}`,
      method: 'post',
      url: '/graphql',
      body,
      contentType: 'application/json',
      token: true,
      graphql: true,
    }),
  );
}

/** Raw POST /graphql bodies, with and without a token. */
const rawGraphqlArb: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(...HOSTILE_BODIES),
      fc.constantFrom(
        '{"query": 5}',
        '{"query": null}',
        '{"query": ["{ me { id } }"]}',
        '{"query": {"a": 1}}',
        '{"query": "{ me { id } }", "variables": 5}',
        '{"query": "{ me { id } }", "variables": "x"}',
        '{"query": "{ me { id } }", "operationName": 5}',
        '{"query": "{ me { id } }", "operationName": "\\u0000"}',
        '{"query": "{ me { id } }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "\\u0000"}}}',
        '{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}',
        '[{"query": "{ me { id } }"}, {"query": "{ me { id } }"}]',
        '{"query": "query ($a: JSON) { me { id } }", "variables": {"a": "\\ud800"}}',
        '{"query": "{ me { id } }", "variables": {"\\u0000": 1}}',
        '{"query": "\\u0000"}',
        '{"query": "\\ud800"}',
        '{"query": "{ me { id } }\\u0000"}',
        '{"query": "mutation { __typename }"}',
        '{"query": "subscription { runEvents(id: \\"x\\") { id } }"}',
        `{"query": ${JSON.stringify('{ me { id } }'.repeat(3000))}}`,
        `{"query": ${JSON.stringify(`{ ${'me { '.repeat(1000)}id${' }'.repeat(1000)} }`)}}`,
        `{"query": ${JSON.stringify(`{ ${'me { '.repeat(320)}id${' }'.repeat(320)} }`)}}`,
        `{"query": ${JSON.stringify(`{ ${'... on Query { '.repeat(190)}me { id }${' }'.repeat(190)} }`)}}`,
        `{"query": ${JSON.stringify(`{ auditEntries(cursor: ${'['.repeat(1990)}${']'.repeat(1990)}) { nextCursor } }`)}}`,
        `{"query": ${JSON.stringify(`{ auditEntries(cursor: ${'['.repeat(490)}${']'.repeat(490)}) { nextCursor } }`)}}`,
        `{"query": ${JSON.stringify(`query ($a: ${'['.repeat(480)}String${']'.repeat(480)}) { me { id } }`)}}`,
        `{"query": ${JSON.stringify(`{ ${'a: me { id } '.repeat(600)} }`)}}`,
        `{"query": ${JSON.stringify(`query ${'($a: Int)'.repeat(1)} { me { id } } ${'fragment F on User { ...F } '.repeat(3)}`)}}`,
      ),
    ),
    fc.boolean(),
  )
  .map(([body, token]) =>
    withToString({
      name: 'POST /graphql (raw)',
      method: 'post',
      url: '/graphql',
      body,
      contentType: 'application/json',
      token,
      graphql: true,
    }),
  );

// ---------------------------------------------------------------------------------------------

describe(`fuzz: hostile input at every operation (seed ${SEED})`, () => {
  let t: TestApp;
  let admin: string;
  let db: Client;
  let countSql: string;
  let dir: string;
  let sent = 0;
  let dependencyUnavailable = 0;
  const statuses = new Map<string, number>();
  const started = Date.now();

  before(async () => {
    process.stdout.write(
      `fuzz seed ${SEED} (FUZZ_SEED=${SEED} reproduces it; FUZZ_ONLY=<operation> runs one), ${RUNS} runs per operation\n`,
    );
    dir = mkdtempSync(join(tmpdir(), 'ops-fuzz-'));
    const env: Record<string, string> = {
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
      ERP_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      ERP_REDIS_URL: 'redis://127.0.0.1:1/0',
      OPS_SMTP_URL: 'smtp://127.0.0.1:1',
      OPS_CHAT_WEBHOOK_URL: `${NOWHERE}/chat`,
      OPS_SCHEDULER: 'false',
      OPS_STATS_SAMPLER: 'false',
      OPS_LOG_LEVEL: 'warn',
    };
    for (const key of URL_KEYS) env[envName(key)] = NOWHERE;
    t = await startTestApp({
      env,
      inventoryPatch: (doc) => {
        doc.backups.directory = join(dir, 'backups');
        delete doc.backups.drillDatabaseUrl;
        doc.cleanup = { ...(doc.cleanup ?? {}), archiveDirectory: join(dir, 'archives') };
        doc.stack.dataPaths = [dir];
        // The ERP host's node exporter is an outside system like the others.
        doc.stack.nodeExporterUrl = NOWHERE;
        // The address put into acknowledge links (never contacted, but a URL like the others).
        doc.incidents = { ...(doc.incidents ?? {}), publicUrl: NOWHERE };
      },
    });
    // Nothing outside 127.0.0.0/8 and this temporary directory: checked before anything is sent.
    const inventory = t.app.get<Inventory>(INVENTORY);
    expect(inventory.stack.dockerHost).toBe('unix:///nonexistent/docker.sock');
    const urls: string[] = [];
    const collect = (value: unknown, key: string) => {
      if (key === 'adminPanel') return; // CORS origins, never contacted
      if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(value) && !value.startsWith('unix://')) urls.push(value);
      else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) collect(v, k);
    };
    collect(inventory, '');
    expect(urls.length).toBeGreaterThan(10);
    for (const url of urls) expect([url, new URL(url).hostname, new URL(url).port]).toEqual([url, '127.0.0.1', '1']);
    for (const path of [inventory.backups.directory, inventory.cleanup.archiveDirectory, ...inventory.stack.dataPaths])
      expect(path.startsWith(dir)).toBe(true);

    admin = await t.tokenFor(Role.Admin);
    db = new Client({ connectionString: dbUrl(t.database) });
    await db.connect();
    const tables = await db.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    );
    expect(tables.rows.map((r) => r.table_name)).toContain('audit_entries');
    countSql = `SELECT ${tables.rows.map((r) => `(SELECT count(*) FROM "${r.table_name}")::int AS "${r.table_name}"`).join(', ')}`;
    // Ids that exist, so that shaped requests also reach past the lookups.
    const victim = await t.createUser(Role.Viewer);
    const run = await t.http().post('/api/v1/procedures/backup.create/runs').set('Authorization', `Bearer ${admin}`).send({ dryRun: true });
    idPool = [victim.id, ...(run.body?.id ? [run.body.id] : [])];
    await settle();
  });

  after(async () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `fuzz: ${sent} requests in ${seconds} s (seed ${SEED}; ${dependencyUnavailable} answered 503 DEPENDENCY_UNAVAILABLE: the dependencies are 127.0.0.1:1); answers ${JSON.stringify(Object.fromEntries([...statuses].sort()))}\n`,
    );
    await db?.end();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const counts = async (): Promise<Record<string, number>> => (await db.query(countSql)).rows[0];

  /** Waits for the runs that a request started (real runs fail fast here: every dependency is refused). */
  async function settle(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const busy = await db.query("SELECT id FROM procedure_runs WHERE status IN ('queued', 'running')");
      if (busy.rowCount === 0) return;
      if (i === 100)
        for (const row of busy.rows) await t.http().post(`/api/v1/runs/${row.id}/cancel`).set('Authorization', `Bearer ${admin}`);
      await sleep(50);
    }
    throw new Error('runs still queued or running after 10 s');
  }

  async function exercise(r: FuzzRequest): Promise<{ status: number; text: string }> {
    const before = await counts();
    let req = t.http()[r.method](r.url).timeout(20_000);
    if (r.token) req = req.set('Authorization', `Bearer ${admin}`);
    if (r.body !== undefined) req = req.set('Content-Type', r.contentType ?? 'application/json').send(r.body);
    const res = await req.ok(() => true);
    sent++;
    const status = res.status;
    statuses.set(`${status}`, (statuses.get(`${status}`) ?? 0) + 1);
    const body = res.body as Record<string, any>;
    const gqlErrors: any[] | undefined = r.graphql && Array.isArray(body?.errors) ? body.errors : undefined;
    const problem = (what: string) =>
      new Error(`${what}\n  request: ${describeRequest(r)}\n  answer: ${status} ${String(res.text ?? '').slice(0, 600)}`);

    if (status === 503 && (body?.error === 'DEPENDENCY_UNAVAILABLE' || gqlErrors?.[0]?.extensions?.code === 'SERVICE_UNAVAILABLE'))
      dependencyUnavailable++;
    else if (status >= 500) throw problem('a 5xx');
    let refused = status >= 400;
    let invalid = ['VALIDATION_FAILED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'].includes(body?.error);
    if (gqlErrors) {
      for (const error of gqlErrors)
        if (error?.extensions?.code === 'INTERNAL_SERVER_ERROR') throw problem('a GraphQL INTERNAL_SERVER_ERROR');
      refused = true;
      invalid = gqlErrors.every((e) =>
        [
          'BAD_USER_INPUT',
          'GRAPHQL_PARSE_FAILED',
          'GRAPHQL_VALIDATION_FAILED',
          'PERSISTED_QUERY_NOT_FOUND',
          'PERSISTED_QUERY_NOT_SUPPORTED',
          'BAD_REQUEST',
        ].includes(e?.extensions?.code),
      );
    } else if (status >= 400) {
      if (!(
        body &&
        typeof body === 'object' &&
        body.statusCode === status &&
        typeof body.error === 'string' &&
        typeof body.message === 'string'
      ))
        throw problem('a 4xx without the JSON error shape');
    }
    if (!refused) {
      await settle();
      return res;
    }
    const afterCounts = await counts();
    const { audit_entries: auditBefore, ...restBefore } = before;
    const { audit_entries: auditAfter, ...restAfter } = afterCounts;
    if (JSON.stringify(restBefore) !== JSON.stringify(restAfter))
      throw problem(`a refused request wrote rows: ${JSON.stringify(restBefore)} → ${JSON.stringify(restAfter)}`);
    if (invalid && auditBefore !== auditAfter) throw problem('a request refused as invalid was audited');
    return res;
  }

  async function fuzz(name: string, arb: fc.Arbitrary<FuzzRequest>, index: number, runs = RUNS): Promise<void> {
    if (ONLY && !name.includes(ONLY)) return;
    await fc.assert(
      fc.asyncProperty(arb, async (r) => void (await exercise(r))),
      { seed: SEED + index, numRuns: runs, endOnFailure: true },
    );
  }

  let index = 0;
  for (const [path, ops] of Object.entries(openapi.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const hasInput = (op.parameters ?? []).some((p) => p.in === 'path' || p.in === 'query') || !!op.requestBody;
      if (!hasInput) continue;
      const name = `${method.toUpperCase()} ${path}`;
      const i = index++;
      const isPublic = isPublicOperation(op);
      it(`${name}${isPublic ? ' (public, no token)' : ''}`, () => fuzz(name, restRequestArb(method, path, op, !isPublic), i));
    }
  }

  it("POST /api/v1/procedures/{id}/runs: each procedure's own parameters", async (ctx) => {
    const list = await t.http().get('/api/v1/procedures').set('Authorization', `Bearer ${admin}`);
    expect(list.status).toBe(200);
    const op = openapi.paths['/api/v1/procedures/{id}/runs'].post;
    for (const procedure of list.body as { id: string; parameters: Schema }[]) {
      const i = index++;
      const name = `POST /api/v1/procedures/${procedure.id}/runs`;
      const body = fc.record(
        { parameters: fromSchema(procedure.parameters), dryRun: fc.boolean(), confirm: fc.constantFrom('none', 'x') },
        { requiredKeys: ['parameters'] },
      );
      const arb = restRequestArb('post', `/api/v1/procedures/${procedure.id}/runs`, { ...op, parameters: [] }, true, body);
      await ctx.test(procedure.id, () => fuzz(name, arb, i, Math.max(6, Math.round(RUNS * 0.75))));
    }
  });

  const roots: ['query' | 'mutation', GraphQLObjectType | null | undefined][] = [
    ['query', gqlSchema.getQueryType()],
    ['mutation', gqlSchema.getMutationType()],
  ];
  for (const [kind, type] of roots) {
    for (const field of Object.values(type?.getFields() ?? {})) {
      if (field.args.length === 0) continue;
      const name = `GraphQL ${kind} ${field.name}`;
      const i = index++;
      it(name, () => fuzz(name, gqlRequestArb(kind, field), i));
    }
  }

  it('POST /graphql: raw bodies, with and without a token', () => fuzz('POST /graphql (raw)', rawGraphqlArb, index++, RUNS * 3));

  it('POST /api/v1/auth/login: hostile bodies without a token, then a good sign-in still works', async () => {
    await fuzz(
      'POST /api/v1/auth/login (hostile)',
      restRequestArb('post', '/api/v1/auth/login', openapi.paths['/api/v1/auth/login'].post, false),
      index++,
      RUNS * 2,
    );
    const user = await t.createUser(Role.Viewer);
    expect(await t.login(user.username)).toBeTruthy();
  });

  it('each class of hostile body at each body route (in its first field): 400 or 413', async () => {
    if (ONLY && !'each class'.includes(ONLY)) return;
    for (const [path, ops] of Object.entries(openapi.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const schema = resolveSchema(op.requestBody?.content['application/json']?.schema);
        if (!op.requestBody) continue;
        const field = JSON.stringify(Object.keys(schema.properties ?? {})[0] ?? 'a');
        const url = path.replace(/\{[^}]+\}/g, UUID);
        const isPublic = isPublicOperation(op);
        const bodies = [
          `{${field}:${deepArray(5000).text}}`,
          `{${field}:${deepObject(MAX_DEPTH - 1).text}}`,
          `{${field}:${deepArray(MAX_DEPTH).text}}`,
          manyKeys(MAX_KEYS + 1, false).text,
          `{${field}:"\\ud800"}`,
          `{${field}:"a\\u0000b"}`,
          `{${field}:{"a\\u0000b":"x"}}`,
          `{${field}:[{"\\udfff":"x"}]}`,
          `{${field}:9223372036854775808}`,
          `{${field}:1e400}`,
          `{${field}:"${'x'.repeat(BODY_LIMIT)}"}`,
          '{"__proto__":{"isAdmin":true}}',
          `{${field}:{"constructor":{"prototype":{}}}}`,
        ];
        for (const body of bodies) {
          const r: FuzzRequest = {
            name: `${method} ${path}`,
            method: method as FuzzRequest['method'],
            url,
            body,
            contentType: 'application/json',
            token: !isPublic,
          };
          const res = await exercise(r);
          if (![400, 413].includes(res.status))
            throw new Error(`expected 400 or 413, got ${res.status} ${res.text.slice(0, 300)}\n  request: ${describeRequest(r)}`);
        }
      }
    }
  });
});
