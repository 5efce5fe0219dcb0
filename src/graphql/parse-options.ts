import type { ParseOptions } from 'graphql';

/**
 * GraphQL's parser is recursive: a document of thousands of nested brackets (a list literal,
 * an object literal, a selection set) overflows the stack in the parser or in the validation
 * and coercion after it. Bounding the tokens bounds the nesting (the largest legitimate
 * document, the full introspection query, has about 200 tokens).
 */
export const GRAPHQL_MAX_TOKENS = 2000;

export const GRAPHQL_PARSE_OPTIONS: ParseOptions = { maxTokens: GRAPHQL_MAX_TOKENS };
