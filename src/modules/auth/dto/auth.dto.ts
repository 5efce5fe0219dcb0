import { PipeTransform } from '@nestjs/common';
import { Field, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { DomainError } from '../../../common/errors';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { Role, ROLES, SERVICE_SCOPES } from '../../../common/rights';
import { PageQuery } from '../../../common/pagination';
import { PASSWORD_MIN_LENGTH } from '../password';

/** GraphQL names the enum values after the roles themselves (viewer, senior_dev, ...). */
export const RoleEnum = Object.fromEntries(ROLES.map((role) => [role, role])) as Record<Role, Role>;
registerEnumType(RoleEnum, { name: 'Role', description: 'Control plane roles (escalation rights)' });

const ROLE_MESSAGE = `must be one of ${ROLES.join(', ')}`;
const USERNAME = /^[a-z][a-z0-9_.-]{2,63}$/;
const USERNAME_MESSAGE = 'must be 3-64 characters: lower-case letters, digits, _ . -, starting with a letter';

export class LoginDto {
  @ApiProperty({ example: 'admin' })
  @IsString({ message: 'must be a string' })
  @Length(1, 64, { message: 'must be 1-64 characters' })
  username: string;

  @ApiProperty({ example: 'correct horse battery staple', format: 'password' })
  @IsString({ message: 'must be a string' })
  @Length(1, 256, { message: 'must be 1-256 characters' })
  password: string;
}

@ObjectType('User')
export class UserModel {
  @ApiProperty() @Field() id: string;
  @ApiProperty() @Field() username: string;
  @ApiProperty({ enum: ROLES }) @Field(() => RoleEnum) role: Role;
  @ApiProperty() @Field() disabled: boolean;
  @ApiProperty() @Field() createdAt: Date;
  @ApiProperty({ nullable: true, type: Date }) @Field(() => Date, { nullable: true }) lastLoginAt: Date | null;
}

export class LoginResponse {
  @ApiProperty({ description: 'JWT to send as "Authorization: Bearer <token>"' }) accessToken: string;
  @ApiProperty({ example: 'Bearer' }) tokenType: string;
  @ApiProperty({ description: 'Lifetime in seconds', example: 900 }) expiresIn: number;
  @ApiProperty({ type: UserModel }) user: UserModel;
}

@ObjectType('Identity')
export class IdentityModel {
  @ApiProperty({
    enum: ['user', 'token', 'service', 'system'],
    description: 'user: signed in; token: a person through one of their API tokens; service: a service identity',
  })
  @Field()
  kind: string;
  @ApiProperty({ description: 'The user id, or the API token id' }) @Field() id: string;
  @ApiProperty({ description: "The person (a token's owner), or service:<name>" }) @Field() username: string;
  @ApiProperty({
    enum: [...ROLES, 'service'],
    description: "The role acted with (a token's role never exceeds its owner's); service for a service identity",
  })
  @Field()
  role: string;
  @ApiProperty({ nullable: true, type: String, description: 'The person behind the call; null for a service identity' })
  @Field(() => String, { nullable: true })
  userId: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The API token used (token:<name>), if any' })
  @Field(() => String, { nullable: true })
  via: string | null;
  @ApiProperty({ description: 'The rights this identity holds' }) @Field(() => [String]) rights: string[];
}

@InputType('CreateUserInput')
export class CreateUserDto {
  @ApiProperty({ example: 'ops.alice' })
  @Field()
  @IsString({ message: 'must be a string' })
  @Matches(USERNAME, { message: USERNAME_MESSAGE })
  username: string;

  @ApiProperty({ minLength: PASSWORD_MIN_LENGTH, format: 'password' })
  @Field()
  @IsString({ message: 'must be a string' })
  @MinLength(PASSWORD_MIN_LENGTH, { message: `must be at least ${PASSWORD_MIN_LENGTH} characters` })
  @MaxLength(256, { message: 'must be at most 256 characters' })
  password: string;

  @ApiProperty({ enum: ROLES })
  @Field(() => RoleEnum)
  @IsIn(ROLES, { message: ROLE_MESSAGE })
  role: Role;
}

@InputType('UpdateUserInput')
export class UpdateUserDto {
  @ApiPropertyOptional({ enum: ROLES })
  @Field(() => RoleEnum, { nullable: true })
  @IsOptional()
  @IsIn(ROLES, { message: ROLE_MESSAGE })
  role?: Role;

  @ApiPropertyOptional()
  @Field({ nullable: true })
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  disabled?: boolean;

  @ApiPropertyOptional({ minLength: PASSWORD_MIN_LENGTH, format: 'password' })
  @Field({ nullable: true })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MinLength(PASSWORD_MIN_LENGTH, { message: `must be at least ${PASSWORD_MIN_LENGTH} characters` })
  @MaxLength(256, { message: 'must be at most 256 characters' })
  password?: string;
}

const SERVICE_SCOPE_MESSAGE = `must be a list of ${SERVICE_SCOPES.join(', ')}`;

@InputType('CreateApiTokenInput')
export class CreateApiTokenDto {
  @ApiProperty({ example: 'nightly-backup-script' })
  @Field()
  @IsString({ message: 'must be a string' })
  @Matches(/^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,99}$/, { message: 'must be 1-100 characters: letters, digits, space, _ . : -' })
  name: string;

  @ApiPropertyOptional({
    enum: ['user', 'service'],
    default: 'user',
    description: 'user: your own token, counting as you; service: a service identity with scopes (admins only)',
  })
  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsIn(['user', 'service'], { message: 'must be user or service' })
  kind?: 'user' | 'service';

  @ApiPropertyOptional({ enum: ROLES, description: "The role a person's token acts with (required for kind user; at most your own role)" })
  @Field(() => RoleEnum, { nullable: true })
  @IsOptional()
  @IsIn(ROLES, { message: ROLE_MESSAGE })
  role?: Role;

  @ApiPropertyOptional({ type: [String], enum: SERVICE_SCOPES, description: "A service identity's rights (kind service only)" })
  @Field(() => [String], { nullable: true })
  @IsOptional()
  @IsArray({ message: SERVICE_SCOPE_MESSAGE })
  @ArrayMinSize(1, { message: SERVICE_SCOPE_MESSAGE })
  @ArrayMaxSize(SERVICE_SCOPES.length, { message: SERVICE_SCOPE_MESSAGE })
  @IsIn(SERVICE_SCOPES, { each: true, message: SERVICE_SCOPE_MESSAGE })
  scopes?: string[];

  @ApiPropertyOptional({ minimum: 1, maximum: 365, default: 90 })
  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt({ message: 'must be a whole number of days' })
  @Min(1, { message: 'must be at least 1' })
  @Max(365, { message: 'must be at most 365' })
  expiresInDays?: number;
}

/** An optional username argument (GraphQL), checked like the REST query's. */
export class ParseUsernamePipe implements PipeTransform<unknown, string | undefined> {
  constructor(private readonly field: string) {}

  transform(value: unknown): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || !USERNAME.test(value))
      throw DomainError.validation([{ field: this.field, problem: USERNAME_MESSAGE }]);
    return value;
  }
}

export class TokenQuery extends PageQuery {
  @ApiPropertyOptional({ description: "Only this person's tokens (tokens.manage; without it, the list is always your own)" })
  @IsOptional()
  @IsString({ message: 'must be a username' })
  @Matches(USERNAME, { message: USERNAME_MESSAGE })
  owner?: string;
}

@ObjectType('ApiToken')
export class ApiTokenModel {
  @ApiProperty() @Field() id: string;
  @ApiProperty() @Field() name: string;
  @ApiProperty({ description: 'First characters of the token, to recognise it' }) @Field() prefix: string;
  @ApiProperty({ enum: ['user', 'service'] }) @Field() kind: string;
  @ApiProperty({ enum: ROLES, nullable: true, type: String }) @Field(() => RoleEnum, { nullable: true }) role: Role | null;
  @ApiProperty({ type: [String] }) @Field(() => [String]) scopes: string[];
  @ApiProperty({ nullable: true, type: String, description: 'The person it belongs to and counts as' })
  @Field(() => String, { nullable: true })
  owner: string | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) ownerId: string | null;
  @ApiProperty() @Field() createdBy: string;
  @ApiProperty() @Field() createdAt: Date;
  @ApiProperty() @Field() expiresAt: Date;
  @ApiProperty({ nullable: true, type: Date }) @Field(() => Date, { nullable: true }) lastUsedAt: Date | null;
  @ApiProperty({ nullable: true, type: Date }) @Field(() => Date, { nullable: true }) revokedAt: Date | null;
  @ApiProperty({ enum: ['active', 'expired', 'revoked'] }) @Field() status: string;
}

@ObjectType('CreatedApiToken')
export class CreatedApiTokenModel extends ApiTokenModel {
  @ApiProperty({ description: 'The token itself. Shown only in this response; store it now.' })
  @Field({ description: 'The token itself. Shown only in this response.' })
  token: string;
}

export class UserPage {
  @ApiProperty({ type: [UserModel] }) items: UserModel[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class ApiTokenPage {
  @ApiProperty({ type: [ApiTokenModel] }) items: ApiTokenModel[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}
