import { z } from 'zod';
import { roleHasLevel, ROLES } from '../common/rights';
import { ProcedureDefinition } from './procedure';

/** The procedure's parameters as JSON Schema (what a client may send). */
export function parametersSchema(definition: ProcedureDefinition): Record<string, unknown> {
  try {
    const schema = z.toJSONSchema(definition.parameters, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    delete schema.$schema;
    return schema;
  } catch {
    return { type: 'object' };
  }
}

/** A parameter validation failure as the 400's problems, each under `parameters.<name>`. */
export function parameterProblems(error: z.ZodError) {
  return error.issues.map((i) => ({
    field: ['parameters', ...i.path.map(String)].join('.'),
    problem: i.code === 'unrecognized_keys' ? `unknown parameter(s) ${i.keys.join(', ')}` : i.message,
  }));
}

/** What GET /procedures shows of a procedure: parameters as JSON Schema, steps, who may run it. */
export function describeProcedure(definition: ProcedureDefinition) {
  return {
    id: definition.id,
    title: definition.title,
    severity: definition.severity,
    situation: definition.situation ?? null,
    domain: definition.domain,
    requiresApproval: definition.requiresApproval,
    confirmation: Boolean(definition.confirmation),
    parameters: parametersSchema(definition),
    levelDependsOnParameters: Boolean(definition.severityFor),
    steps: definition.steps.map((s) => ({ id: s.id, title: s.title, timeoutMs: s.timeoutMs })),
    roles: ROLES.filter((r) => roleHasLevel(r, definition.severity, definition.domain)),
  };
}
