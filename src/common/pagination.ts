import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { DomainError } from './errors';
import { textProblem } from './storable';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** Query parameters of every cursor-paginated list. */
export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: 'Page size' })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'must be a whole number' })
  @Min(1, { message: 'must be at least 1' })
  @Max(MAX_PAGE_SIZE, { message: `must be at most ${MAX_PAGE_SIZE}` })
  limit?: number;

  @ApiPropertyOptional({ description: "Opaque cursor from the previous page's nextCursor" })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,200}$/, { message: 'must be the nextCursor of a previous page' })
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Cursors are opaque to clients: base64url of a JSON array of key values. */
export function encodeCursor(values: (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export type CursorPart = 'integer' | 'date' | 'uuid' | 'text';

/** PostgreSQL's bigint (audit ids): 19 digits may still be beyond it. */
const BIGINT_MAX = 9223372036854775807n;

/** Cursor dates are written by Date#toISOString: they must read back to the same text, years 1 to 9999 (PostgreSQL has no year 0). */
function isCursorDate(v: unknown): boolean {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(v)) return false;
  const date = new Date(v);
  if (Number.isNaN(date.getTime())) return false;
  const year = date.getUTCFullYear();
  return year >= 1 && year <= 9999 && date.toISOString() === v;
}

const PART_CHECK: Record<CursorPart, (v: unknown) => boolean> = {
  integer: (v) => typeof v === 'string' && /^\d{1,19}$/.test(v) && BigInt(v) <= BIGINT_MAX,
  date: isCursorDate,
  uuid: (v) => typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v),
  text: (v) => typeof v === 'string' && v.length <= 256 && textProblem(v) === undefined,
};

/** Decodes a cursor whose parts must have the given kinds; anything else is a 400. */
export function decodeCursor(cursor: string | undefined, parts: CursorPart[]): string[] | undefined {
  if (!cursor) return undefined;
  try {
    const values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(values) && values.length === parts.length && values.every((v, i) => PART_CHECK[parts[i]](v)))
      return values as string[];
  } catch {
    // fall through
  }
  throw DomainError.validation([{ field: 'cursor', problem: 'must be the nextCursor of a previous page' }]);
}

export function pageSize(limit: number | undefined): number {
  return Math.min(Math.max(limit ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
}
