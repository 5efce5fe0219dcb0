import type { ParseOptions } from 'graphql';

/**
 * GraphQL's parser is recursive: a document of thousands of nested brackets (a list literal,
 * an object literal, a selection set) overflows the stack in the parser or in the validation
 * and coercion after it. Bounding the tokens bounds the nesting: a list literal nested ~1950
 * deep already overflowed inside the server (one token per level), so 1000 keeps a margin of
 * two. The largest legitimate document, the full introspection query, has about 200 tokens;
 * the depth (8) and cost (1000) limits keep real operations far smaller than 1000 tokens.
 */
export const GRAPHQL_MAX_TOKENS = 1000;

export const GRAPHQL_PARSE_OPTIONS: ParseOptions = { maxTokens: GRAPHQL_MAX_TOKENS };
