import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '../common/errors';
import { ProcedureDefinition } from './procedure';

/** Every procedure the runner knows; feature modules register theirs at start. */
@Injectable()
export class ProcedureRegistry {
  private readonly procedures = new Map<string, ProcedureDefinition>();

  register(definition: ProcedureDefinition): void {
    if (this.procedures.has(definition.id)) throw new Error(`procedure ${definition.id} registered twice`);
    this.procedures.set(definition.id, definition);
  }

  get(id: string): ProcedureDefinition {
    const definition = this.procedures.get(id);
    if (!definition) throw new DomainError(ErrorCode.NotFound, `procedure ${id} does not exist; GET /api/v1/procedures lists them`, { id });
    return definition;
  }

  list(): ProcedureDefinition[] {
    return [...this.procedures.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
}
