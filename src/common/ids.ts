import { PipeTransform } from '@nestjs/common';
import { DomainError } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Route ids are UUIDs; anything else is a 400 naming the parameter. */
export class ParseUuidPipe implements PipeTransform<string, string> {
  constructor(private readonly name = 'id') {}

  transform(value: string): string {
    if (typeof value !== 'string' || !UUID.test(value)) throw DomainError.validation([{ field: this.name, problem: 'must be a UUID' }]);
    return value.toLowerCase();
  }
}
