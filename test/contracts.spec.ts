import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { projectRoot } from '../src/common/paths';
import { graphqlSchema, openApiDocument } from '../src/cli/api-contracts';
import { declaredRights } from '../src/guards/declared-rights';
import { startTestApp, TestApp } from './helpers/test-app';

describe('generated contracts are committed and current', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  it('openapi.json equals what the code generates (run npm run generate after a change)', () => {
    expect(openApiDocument(t.app)).toBe(readFileSync(join(projectRoot(), 'openapi.json'), 'utf8'));
  });

  it('schema.gql equals what the code generates (run npm run generate after a change)', () => {
    expect(graphqlSchema(t.app)).toBe(readFileSync(join(projectRoot(), 'schema.gql'), 'utf8'));
  });

  it('openapi.json documents every route with its security scheme and declared right', () => {
    const doc = JSON.parse(openApiDocument(t.app));
    const rest = declaredRights(t.app).filter((d) => d.transport === 'rest');
    for (const d of rest) {
      const path = d.path!.replace(/:([a-zA-Z]+)/g, '{$1}');
      const op = doc.paths[path]?.[d.method!.toLowerCase()];
      expect([d.endpoint, Boolean(op)]).toEqual([d.endpoint, true]);
      if (d.right === 'public') {
        expect(op['x-required-right']).toEqual({ right: 'public' });
        expect(op.security).toBeUndefined();
      } else {
        expect([d.endpoint, op['x-required-right'].right]).toEqual([d.endpoint, d.right]);
        expect(op['x-required-right'].roles).toEqual(d.roles);
        expect(op.security).toEqual([{ bearer: [] }]);
        expect(op.responses['403']).toBeDefined();
      }
    }
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const documented = Object.values(doc.paths).flatMap((p) => Object.keys(p as object)).length;
    expect(documented).toBe(rest.length);
  });
});
