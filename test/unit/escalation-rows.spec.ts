import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { dump as dumpYaml, load as loadYaml } from 'js-yaml';
import { projectRoot } from '../../src/common/paths';
import { escalationOf, situationProblem } from '../../src/config/escalation';
import { parseInventory } from '../../src/config/inventory.loader';
import { policyFor } from '../../src/modules/incidents/oncall';

/**
 * Issue 15, "Escalation rows as the runbook has them": the table's six rows (situation →
 * contacts → response time) in the inventory, each resolvable on its own.
 */
describe("the runbook's escalation table in the inventory", () => {
  const file = join(projectRoot(), 'ops.example.yaml');
  const text = readFileSync(file, 'utf8');
  const example = parseInventory(text, file, {});
  const withEscalation = (escalation: Record<string, unknown>) => {
    const doc = loadYaml(text) as Record<string, any>;
    doc.escalation = { ...doc.escalation, ...escalation };
    return () => parseInventory(dumpYaml(doc), file, {});
  };

  it('holds the six rows of the runbook, each with its contacts and response time', () => {
    const rows = (['P1', 'P2', 'P3'] as const).flatMap((level) =>
      example.escalation[level].situations.map((r) => [level, r.situation, r.contacts.join(' + '), r.responseMinutes]),
    );
    expect(rows).toEqual([
      ['P1', 'System down', 'On-Call Senior Dev', 5],
      ['P1', 'Data at risk', 'Senior Dev + DBA', 5],
      ['P2', 'API slow (> 5 s)', 'Support + Senior Dev', 15],
      ['P2', 'High error rate', 'Senior Dev', 15],
      ['P3', 'Performance issue', 'Support', 30],
      ['P3', 'Single user issue', 'Support', 60],
    ]);
  });

  it("resolves a row by its id, and the level (every row's contacts) for no id or an id the level lacks", () => {
    expect(escalationOf(example, 'P1', 'data-at-risk')).toEqual({
      level: 'P1',
      situation: 'Data at risk',
      contacts: ['Senior Dev', 'DBA'],
      responseMinutes: 5,
    });
    expect(escalationOf(example, 'P3', 'single-user')).toMatchObject({ contacts: ['Support'], responseMinutes: 60 });
    const level = { level: 'P1', situation: null, contacts: ['On-Call Senior Dev', 'Senior Dev', 'DBA'], responseMinutes: 5 };
    expect(escalationOf(example, 'P1')).toEqual(level);
    expect(escalationOf(example, 'P1', 'single-user')).toEqual(level);
  });

  it("says why a situation id cannot open an incident: another level's row, a level without rows, a P4", () => {
    expect(situationProblem(example, 'P3', 'single-user')).toBeNull();
    expect(situationProblem(example, 'P3', 'data-at-risk')).toBe(
      'must be one of performance, single-user (the P3 rows of the escalation table)',
    );
    expect(situationProblem(withEscalation({ P3: { responseMinutes: 30, situations: [], contacts: ['Support'] } })(), 'P3', 'x')).toBe(
      'the escalation table has no P3 rows',
    );
    expect(situationProblem(example, null, 'single-user')).toMatch(/^a P4 incident has no row/);
  });

  it("paces an incident's first step by its row (P3 single user: 1 hour) and the rest of the chain by the levels", () => {
    const plain = policyFor('P3', example);
    const single = policyFor('P3', example, 1, 'single-user');
    expect(plain.steps[0]).toEqual({ level: 'P3', waitSeconds: 1800 });
    expect(single.steps[0]).toEqual({ level: 'P3', waitSeconds: 3600 });
    expect(single.steps.slice(1)).toEqual(plain.steps.slice(1));
    expect(single.situation).toEqual({ id: 'single-user', situation: 'Single user issue', contacts: ['Support'], responseMinutes: 60 });
    expect(plain.situation).toBeUndefined();
  });

  it("still reads rows written as plain strings (they take the level's contacts, which must then be given)", () => {
    const inventory = withEscalation({
      P2: { responseMinutes: 15, situations: ['API slow (>5s)', 'High error rate'], contacts: ['Support + Senior Dev'] },
    })();
    expect(inventory.escalation.P2.situations).toEqual([
      { id: 'api-slow-5s', situation: 'API slow (>5s)', contacts: ['Support + Senior Dev'], responseMinutes: 15 },
      { id: 'high-error-rate', situation: 'High error rate', contacts: ['Support + Senior Dev'], responseMinutes: 15 },
    ]);
    expect(withEscalation({ P2: { responseMinutes: 15, situations: ['API slow'] } })).toThrow(
      /escalation\.P2\.contacts: must name at least one contact/,
    );
    expect(
      withEscalation({
        P2: { responseMinutes: 15, situations: ['API slow', { id: 'errors', situation: 'Errors', contacts: ['Senior Dev'] }] },
      }),
    ).toThrow(/escalation\.P2\.contacts: must be given when a situation names no contacts of its own/);
  });

  it('refuses a level nobody can be called for, a row id twice, a malformed id, a row without contacts or time that is no number', () => {
    expect(withEscalation({ P3: { responseMinutes: 30, situations: [] } })).toThrow(
      /escalation\.P3\.contacts: must name at least one contact/,
    );
    expect(
      withEscalation({
        P3: {
          responseMinutes: 30,
          situations: [
            { id: 'slow', situation: 'Slow', contacts: ['Support'] },
            { id: 'slow', situation: 'Also slow', contacts: ['Support'] },
          ],
        },
      }),
    ).toThrow(/escalation\.P3\.situations: has the situation id "slow" twice/);
    expect(
      withEscalation({ P3: { responseMinutes: 30, situations: [{ id: 'Single User', situation: 'x', contacts: ['Support'] }] } }),
    ).toThrow(/escalation\.P3\.situations\.0\.id: must be a short id/);
    expect(withEscalation({ P3: { responseMinutes: 30, situations: [{ id: 'x', situation: 'x', contacts: [] }] } })).toThrow(
      /escalation\.P3\.situations\.0\.contacts: must name at least one contact/,
    );
    expect(
      withEscalation({
        P3: { responseMinutes: 30, situations: [{ id: 'x', situation: 'x', contacts: ['Support'], responseMinutes: 'an hour' }] },
      }),
    ).toThrow(/escalation\.P3\.situations\.0\.responseMinutes: must be a number of minutes/);
  });
});
