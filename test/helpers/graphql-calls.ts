import { GraphQLSchemaHost } from '@nestjs/graphql';
import { INestApplication } from '@nestjs/common';
import {
  GraphQLField,
  GraphQLInputType,
  GraphQLNamedType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from 'graphql';

/** A literal of the right shape for an argument type (fields named like ids get a UUID). */
function literalFor(type: GraphQLInputType, name: string): string {
  if (isNonNullType(type)) return literalFor(type.ofType, name);
  if (isListType(type)) return `[${literalFor(type.ofType as GraphQLInputType, name)}]`;
  if (isEnumType(type)) return type.getValues()[0].name;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type));
    return `{ ${fields.map((f) => `${f.name}: ${literalFor(f.type, f.name)}`).join(', ')} }`;
  }
  if (isScalarType(type)) {
    if (type.name === 'Int' || type.name === 'Float') return '1';
    if (type.name === 'Boolean') return 'true';
    if (/id$/i.test(name)) return '"00000000-0000-4000-8000-000000000000"';
    return '"x"';
  }
  return 'null';
}

function selectionFor(type: GraphQLNamedType): string {
  return isObjectType(type) ? ' { __typename }' : '';
}

/** A minimal, schema-valid operation that reaches the resolver of `Query.x` / `Mutation.x`. */
export function minimalOperation(app: INestApplication, endpoint: string): string {
  const schema = app.get(GraphQLSchemaHost).schema;
  const [kind, fieldName] = endpoint.split('.');
  const root = kind === 'Query' ? schema.getQueryType() : kind === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  const field = root!.getFields()[fieldName] as GraphQLField<unknown, unknown>;
  const args = field.args.filter((a) => isNonNullType(a.type)).map((a) => `${a.name}: ${literalFor(a.type, a.name)}`);
  const argText = args.length ? `(${args.join(', ')})` : '';
  const op = kind === 'Query' ? 'query' : kind === 'Mutation' ? 'mutation' : 'subscription';
  return `${op} { ${fieldName}${argText}${selectionFor(getNamedType(field.type))} }`;
}
