import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { DomainError, FieldProblem } from './errors';

function flatten(errors: ValidationError[], parent = ''): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
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
    if (metadata.type === 'body' && metadata.metatype && ![Object, String, Number, Boolean, Array].includes(metadata.metatype as never)) {
      if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw DomainError.validation([{ field: 'body', problem: 'must be a JSON object (send Content-Type: application/json)' }]);
      }
    }
    return super.transform(value, metadata);
  }
}
