import { Reflector } from '@nestjs/core';
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { lastValueFrom, timer, map } from 'rxjs';
import { buildSchema, FragmentDefinitionNode, Kind, OperationDefinitionNode, parse, specifiedRules, validate } from 'graphql';
import { DomainError } from '../../src/common/errors';
import { decodeCursor, encodeCursor } from '../../src/common/pagination';
import { isIsoDateTime } from '../../src/common/validation';
import { maskedErrorLine, maskSecrets, maskUrl, maskValues } from '../../src/common/secrets';
import { BoundedByHandler, TimeoutInterceptor } from '../../src/interceptors/timeout.interceptor';
import { loadAppConfig } from '../../src/config/app-config';
import { limitErrors, measureOperation, rootFieldNames } from '../../src/graphql/limits';
import { DEFAULT_MATRIX, Level, Role, ROLES, RoleRights } from '../../src/common/rights';
import { canonicalJson, entryHash, GENESIS_HASH } from '../../src/audit/canonical';

const RANK: Record<Exclude<Level, 'admin'>, number> = { read: 0, P3: 1, P2: 2, P1: 3 };
function allowed(rights: RoleRights, level: Level, domain: 'system' | 'database'): boolean {
  if (rights.admin) return true;
  if (level === 'admin') return false;
  return RANK[rights[domain]] >= RANK[level];
}

describe('escalation matrix (runbook defaults)', () => {
  // Expected table: role → the levels it may exercise on system / database actions.
  const expected: Record<Role, { system: Level[]; database: Level[] }> = {
    [Role.Viewer]: { system: ['read'], database: ['read'] },
    [Role.Operator]: { system: ['read', 'P3'], database: ['read', 'P3'] },
    [Role.Support]: { system: ['read', 'P3'], database: ['read', 'P3'] },
    [Role.SeniorDev]: { system: ['read', 'P3', 'P2', 'P1'], database: ['read', 'P3', 'P2'] },
    [Role.Dba]: { system: ['read', 'P3', 'P2'], database: ['read', 'P3', 'P2', 'P1'] },
    [Role.Admin]: { system: ['read', 'P3', 'P2', 'P1', 'admin'], database: ['read', 'P3', 'P2', 'P1', 'admin'] },
  };
  for (const role of ROLES) {
    for (const domain of ['system', 'database'] as const) {
      it(`${role} on ${domain}`, () => {
        const levels = (['read', 'P3', 'P2', 'P1', 'admin'] as Level[]).filter((l) => allowed(DEFAULT_MATRIX[role], l, domain));
        expect(levels).toEqual(expected[role][domain]);
      });
    }
  }
  it('P1 on the database needs the DBA, P1 on the system the senior developer (their complements approve)', () => {
    expect(ROLES.filter((r) => allowed(DEFAULT_MATRIX[r], 'P1', 'database'))).toEqual([Role.Dba, Role.Admin]);
    expect(ROLES.filter((r) => allowed(DEFAULT_MATRIX[r], 'P1', 'system'))).toEqual([Role.SeniorDev, Role.Admin]);
  });
});

describe('audit hash chain', () => {
  const fields = {
    id: '7',
    at: new Date('2026-01-19T02:00:00.000Z'),
    actor: 'admin',
    actorRole: 'admin',
    action: 'tokens.create',
    target: null,
    parameters: { b: 1, a: { y: [1, 2], x: 'z' } },
    outcome: 'success',
    errorCode: null,
    requestId: 'r1',
    clientAddress: '127.0.0.1',
  };
  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { y: [1, { d: 1, c: 2 }], x: 'z' } })).toBe('{"a":{"x":"z","y":[1,{"c":2,"d":1}]},"b":1}');
  });
  it('the hash depends on every field and on the previous hash, not on key order', () => {
    const h = entryHash(GENESIS_HASH, fields);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(entryHash(GENESIS_HASH, { ...fields, parameters: { a: { x: 'z', y: [1, 2] }, b: 1 } })).toBe(h);
    expect(entryHash(GENESIS_HASH, { ...fields, actor: 'mallory' })).not.toBe(h);
    expect(entryHash(GENESIS_HASH, { ...fields, parameters: { b: 2, a: { y: [1, 2], x: 'z' } } })).not.toBe(h);
    expect(entryHash('f'.repeat(64), fields)).not.toBe(h);
  });
});

describe('secret masking', () => {
  it('masks URL passwords and keeps the rest', () => {
    expect(maskUrl('postgres://erp_admin:hunter2@db:5432/erp')).toBe('postgres://erp_admin:****@db:5432/erp');
    expect(maskUrl('http://localhost:9090')).toBe('http://localhost:9090');
    expect(maskUrl('https://hooks.example.com/services/T/B/X', { maskPath: true })).toBe('https://hooks.example.com/****');
    expect(maskUrl('postgres://u@db:5432/erp?password=hunter2&sslmode=require')).toBe(
      'postgres://u@db:5432/erp?password=****&sslmode=require',
    );
  });
  it('masks secret-looking keys and credentials in nested values', () => {
    expect(
      maskSecrets({ username: 'u', password: 'p', nested: { apiKey: 'k', url: 'redis://:pw@h:6379' }, list: [{ token: 't' }] }),
    ).toEqual({
      username: 'u',
      password: '****',
      nested: { apiKey: '****', url: 'redis://:****@h:6379' },
      list: [{ token: '****' }],
    });
  });

  it('masks given secret values, raw and URL-encoded, a whole URL before its parts', () => {
    const url = 'https://hooks.example.com/services/T0/B0/abc def';
    expect(maskValues(`POST ${url} failed: bad token abc def`, ['abc def', url])).toBe('POST **** failed: bad token ****');
    expect(maskValues('login p%40ss refused for p@ss', ['p@ss'])).toBe('login **** refused for ****');
    expect(maskValues('ab is no secret', ['ab', undefined, ''], 3)).toBe('ab is no secret');
  });

  it('makes an error line: one line, bounded, secrets of 3 characters or more masked', () => {
    expect(maskedErrorLine('535 auth failed\n  for s3cret  (ab)', ['s3cret', 'ab'])).toBe('535 auth failed for **** (ab)');
    expect(maskedErrorLine('x'.repeat(600), [])).toHaveLength(500);
  });
});

describe('cursors', () => {
  it('round-trip, and a forged cursor is a 400 naming the field', () => {
    expect(decodeCursor(encodeCursor(['2026-01-01T00:00:00.000Z', '00000000-0000-4000-8000-000000000000']), ['date', 'uuid'])).toEqual([
      '2026-01-01T00:00:00.000Z',
      '00000000-0000-4000-8000-000000000000',
    ]);
    expect(() => decodeCursor(Buffer.from('{"x":1}').toString('base64url'), ['integer'])).toThrow(DomainError);
    expect(() => decodeCursor(encodeCursor(['a']), ['text', 'text'])).toThrow(/cursor: must be the nextCursor/);
    // Well-formed JSON of the wrong kinds (which the database would refuse with a 500).
    expect(() => decodeCursor(encodeCursor(['x', 'y']), ['date', 'uuid'])).toThrow(/cursor/);
    expect(() => decodeCursor(encodeCursor(['1e999']), ['integer'])).toThrow(/cursor/);
  });
});

describe('ISO 8601 date-times', () => {
  it('accepts real dates and date-times, refuses week dates and impossible days', () => {
    for (const ok of ['2026-01-19', '2026-01-19T02:00:00Z', '2026-01-19T02:00:00.123+07:00', '2024-02-29T00:00Z'])
      expect([ok, isIsoDateTime(ok)]).toEqual([ok, true]);
    for (const bad of ['2026-W01', '2026-02-31', '2025-02-29', '2026-01-19T25:00:00Z', 'yesterday', '2026-1-9'])
      expect([bad, isIsoDateTime(bad)]).toEqual([bad, false]);
  });
});

describe('GraphQL limits', () => {
  const schema = buildSchema(
    'type Node { id: ID, child: Node, children(limit: Int): [Node] } type Query { node: Node, nodes(limit: Int): [Node] }',
  );
  const check = (query: string, depth: number, cost: number, variables?: Record<string, unknown>) => {
    const document = parse(query);
    expect(validate(schema, document, specifiedRules)).toEqual([]);
    const fragments = Object.fromEntries(
      document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
    );
    const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
    return limitErrors(measureOperation(operation, fragments, variables), depth, cost).map((e) => e.message);
  };
  it('counts depth through fragments and inline fragments', () => {
    expect(check('{ node { child { child { id } } } }', 3, 1000)).toEqual([]);
    expect(check('{ node { child { child { child { id } } } } }', 3, 1000)).toEqual(['query depth 4 exceeds the limit of 3']);
    expect(check('{ node { ...F } } fragment F on Node { child { ... on Node { child { child { id } } } } }', 3, 1000)).toEqual([
      'query depth 4 exceeds the limit of 3',
    ]);
  });
  it('multiplies cost by page sizes', () => {
    expect(check('{ nodes(limit: 10) { id child { id } } }', 10, 1000)).toEqual([]);
    expect(check('{ nodes(limit: 100) { children(limit: 100) { id } } }', 10, 1000)).toEqual([
      'query cost 10101 exceeds the limit of 1000; ask for fewer fields or smaller pages',
    ]);
  });
  it('takes page sizes from variables and their defaults, not only from literals', () => {
    const query = 'query($a: Int, $b: Int = 100) { nodes(limit: $a) { children(limit: $b) { id } } }';
    expect(check(query, 10, 1000, { a: 100 })).toEqual([
      'query cost 10101 exceeds the limit of 1000; ask for fewer fields or smaller pages',
    ]);
    expect(check(query, 10, 1000, { a: 2, b: 3 })).toEqual([]);
    // An unset variable without a default counts as the resolvers' default page size (50).
    expect(check('query($a: Int) { nodes(limit: $a) { id } }', 10, 50)).toEqual([
      'query cost 51 exceeds the limit of 50; ask for fewer fields or smaller pages',
    ]);
  });
  it('names the root fields through fragments (introspection and __typename-only requests)', () => {
    const document = parse('{ ...R } fragment R on Query { __typename ... on Query { __schema { types { name } } } }');
    const fragments = Object.fromEntries(
      document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
    );
    const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
    expect(rootFieldNames(operation, fragments)).toEqual(['__typename', '__schema']);
  });
});

describe('request timeout', () => {
  it('turns a handler slower than OPS_REQUEST_TIMEOUT_MS into REQUEST_TIMEOUT (504)', async () => {
    const interceptor = new TimeoutInterceptor(loadAppConfig({ OPS_REQUEST_TIMEOUT_MS: '100' } as NodeJS.ProcessEnv), new Reflector());
    const slow = { handle: () => timer(1000).pipe(map(() => 'late')) };
    const fast = { handle: () => timer(10).pipe(map(() => 'done')) };
    const handler = () => undefined;
    const context = { getHandler: () => handler } as never;
    await expect(lastValueFrom(interceptor.intercept(context, fast))).resolves.toBe('done');
    const error = await lastValueFrom(interceptor.intercept(context, slow)).catch((e) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).status).toBe(504);
    // A handler that bounds its own wait (?wait=true&waitSeconds=) is left alone.
    const bounded = () => undefined;
    BoundedByHandler()(bounded as never, undefined as never, { value: bounded } as never);
    await expect(
      lastValueFrom(interceptor.intercept({ getHandler: () => bounded } as never, { handle: () => timer(300).pipe(map(() => 'waited')) })),
    ).resolves.toBe('waited');
  });
});
