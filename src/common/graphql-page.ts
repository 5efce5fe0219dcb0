import { Type } from '@nestjs/common';
import { ArgsType, Field, Int, ObjectType } from '@nestjs/graphql';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { MAX_PAGE_SIZE } from './pagination';

/** A GraphQL page type `{ items, nextCursor }` for an item type. */
export function PageOf<T>(item: Type<T>, name: string) {
  @ObjectType(name)
  class PageType {
    @Field(() => [item]) items: T[];
    @Field(() => String, { nullable: true }) nextCursor: string | null;
  }
  return PageType;
}

@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, description: `Page size, 1 to ${MAX_PAGE_SIZE}` })
  @IsOptional()
  @IsInt({ message: 'must be a whole number' })
  @Min(1, { message: 'must be at least 1' })
  @Max(MAX_PAGE_SIZE, { message: `must be at most ${MAX_PAGE_SIZE}` })
  limit?: number;

  @Field(() => String, { nullable: true, description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,200}$/, { message: 'must be the nextCursor of a previous page' })
  cursor?: string;
}
