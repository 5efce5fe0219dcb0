import { INestApplicationContext, RequestMethod } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { PUBLIC_KEY, RIGHT_KEY } from './right.decorator';
import { RightName, RIGHTS, rolesWithRight } from '../common/rights';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- Nest's metadata targets are any function
type AnyFunction = Function;

export interface DeclaredRight {
  /** `GET /api/v1/auth/me` or `Query.me` / `Mutation.createApiToken`. */
  endpoint: string;
  transport: 'rest' | 'graphql';
  method?: string;
  path?: string;
  field?: string;
  /** The right, `public`, or `UNDECLARED` (which the guard denies). */
  right: RightName | 'public' | 'UNDECLARED';
  roles: string[];
}

// Metadata keys of @nestjs/common and @nestjs/graphql (kept as strings: they are part of
// those packages' decorators' public behaviour, not of their exports).
const PATH_METADATA = 'path';
const METHOD_METADATA = 'method';
const RESOLVER_TYPE_METADATA = 'graphql:resolver_type';
const RESOLVER_NAME_METADATA = 'graphql:resolver_name';

function joinPath(...parts: (string | string[] | undefined)[]): string {
  const text = parts
    .map((p) => (Array.isArray(p) ? p[0] : p) ?? '')
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/');
  return `/${text}`;
}

/**
 * Every REST route and GraphQL field of the application with the right it declares.
 * The rights snapshot test and the table-driven rights test are built on it.
 */
export function declaredRights(app: INestApplicationContext): DeclaredRight[] {
  const discovery = app.get(DiscoveryService);
  const scanner = app.get(MetadataScanner);
  const reflector = app.get(Reflector);
  const out: DeclaredRight[] = [];
  const rightOf = (handler: AnyFunction, owner: AnyFunction): DeclaredRight['right'] => {
    if (reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [handler, owner])) return 'public';
    return reflector.getAllAndOverride<RightName>(RIGHT_KEY, [handler, owner]) ?? 'UNDECLARED';
  };
  const roles = (right: DeclaredRight['right']) => (right === 'public' ? ['anyone'] : right === 'UNDECLARED' ? [] : rolesWithRight(right));

  for (const wrapper of discovery.getControllers()) {
    const type = wrapper.metatype as AnyFunction | undefined;
    if (!type || !wrapper.instance) continue;
    const base = Reflect.getMetadata(PATH_METADATA, type) as string | undefined;
    for (const name of scanner.getAllMethodNames(Object.getPrototypeOf(wrapper.instance))) {
      const handler = wrapper.instance[name] as AnyFunction;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (path === undefined || method === undefined) continue;
      const verb = RequestMethod[method];
      const full = joinPath(base, path);
      const right = rightOf(handler, type);
      out.push({ endpoint: `${verb} ${full}`, transport: 'rest', method: verb, path: full, right, roles: roles(right) });
    }
  }
  for (const wrapper of discovery.getProviders()) {
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    const type = wrapper.metatype as AnyFunction | undefined;
    if (!instance || !type || typeof instance !== 'object') continue;
    for (const name of scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
      const handler = instance[name] as AnyFunction;
      const kind = Reflect.getMetadata(RESOLVER_TYPE_METADATA, handler) as string | undefined;
      if (kind !== 'Query' && kind !== 'Mutation' && kind !== 'Subscription') continue;
      const field = (Reflect.getMetadata(RESOLVER_NAME_METADATA, handler) as string | undefined) ?? name;
      const right = rightOf(handler, type);
      out.push({ endpoint: `${kind}.${field}`, transport: 'graphql', field: `${kind}.${field}`, right, roles: roles(right) });
    }
  }
  return out.sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1));
}

/** The snapshot text: one line per endpoint. */
export function rightsSnapshot(app: INestApplicationContext): string {
  return (
    declaredRights(app)
      .map((d) => {
        const level = d.right === 'public' || d.right === 'UNDECLARED' ? '' : ` (${RIGHTS[d.right].level}, ${RIGHTS[d.right].domain})`;
        return `${d.endpoint.padEnd(44)} ${d.right}${level}  [${d.roles.join(', ')}]`;
      })
      .join('\n') + '\n'
  );
}
