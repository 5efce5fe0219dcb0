import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidateBy, ValidationOptions } from 'class-validator';
import { DomainError, FieldProblem } from './errors';
import { findUnstorable, safeKey } from './storable';

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** A real calendar date or date-time in ISO 8601 (2026-01-19 or 2026-01-19T02:00:00Z); no 2026-02-31. */
export function isIsoDateTime(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const m = ISO_DATE_TIME.exec(value);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59)) return false;
  return !Number.isNaN(Date.parse(value));
}

export function IsIsoDateTime(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIsoDateTime',
      validator: { validate: isIsoDateTime, defaultMessage: () => 'must be an ISO 8601 date-time, for example 2026-01-19T00:00:00Z' },
    },
    options,
  );
}

function flatten(errors: ValidationError[], parent = ''): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const error of errors) {
    // Unknown fields are named as sent: control characters escaped, long names cut.
    const field = parent ? `${parent}.${safeKey(error.property)}` : safeKey(error.property);
    for (const [rule, message] of Object.entries(error.constraints ?? {})) {
      if (rule === 'whitelistValidation') problems.push({ field, problem: 'is not a known field' });
      else problems.push({ field, problem: message.startsWith(`${error.property} `) ? message.slice(error.property.length + 1) : message });
    }
    if (error.children?.length) problems.push(...flatten(error.children, field));
  }
  return problems;
}

/**
 * DTO validation: unknown fields refused, types checked, every problem named by field,
 * and bodies that are not a JSON object refused before any field is looked at.
 */
export class OpsValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      forbidUnknownValues: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => DomainError.validation(flatten(errors)),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata) {
    // Text and numbers PostgreSQL cannot store (NUL, lone surrogates, in keys too; numbers not
    // finite or not exact) are refused here, for every REST body, query and parameter and every
    // GraphQL argument, before any DTO, schema or service sees them.
    const unstorable = findUnstorable(
      value,
      metadata.type === 'param' || metadata.type === 'custom' ? (typeof metadata.data === 'string' ? metadata.data : '') : '',
    );
    if (unstorable !== undefined)
      throw DomainError.validation([
        { field: unstorable.field || (typeof metadata.data === 'string' && metadata.data) || metadata.type, problem: unstorable.problem },
      ]);
    if (metadata.type === 'body' && metadata.metatype && ![Object, String, Number, Boolean, Array].includes(metadata.metatype as never)) {
      if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw DomainError.validation([{ field: 'body', problem: 'must be a JSON object (send Content-Type: application/json)' }]);
      }
    }
    return super.transform(value, metadata);
  }
}
