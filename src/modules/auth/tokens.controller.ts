import { Body, Controller, Delete, Get, Injectable, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentIdentity } from '../../common/current-identity.decorator';
import { ParseUuidPipe } from '../../common/ids';
import { Identity } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { ApiTokenModel, ApiTokenPage, CreateApiTokenDto, CreatedApiTokenModel, TokenQuery } from './dto/auth.dto';
import { TokensService } from './tokens.service';
import { UsersService } from './users.service';
import { principalHasRight } from '../../common/rights';
import { DomainError, ErrorCode } from '../../common/errors';
import { Page } from '../../common/pagination';
import { ApiTokenView } from './tokens.service';

export const DEFAULT_TOKEN_DAYS = 90;

/** REST and GraphQL share these: who may see whose tokens, and how a token is made. */
@Injectable()
export class TokenActions {
  constructor(
    private readonly tokens: TokensService,
    private readonly users: UsersService,
  ) {}

  /** One's own tokens; everyone's (or one owner's) with tokens.manage. */
  async list(identity: Identity, query: { limit?: number; cursor?: string; owner?: string }): Promise<Page<ApiTokenView>> {
    const manager = principalHasRight(identity, 'tokens.manage');
    if (!manager) {
      if (query.owner !== undefined && query.owner !== identity.username) {
        throw new DomainError(ErrorCode.Forbidden, 'without tokens.manage you list only your own tokens', {
          requiredRight: 'tokens.manage',
          yourRole: identity.role,
        });
      }
      if (!identity.userId) return { items: [], nextCursor: null };
      return this.tokens.list({ limit: query.limit, cursor: query.cursor, ownerId: identity.userId });
    }
    let ownerId: string | undefined;
    if (query.owner !== undefined) {
      const owner = await this.users.findByUsername(query.owner);
      if (!owner) throw DomainError.notFound('user', query.owner);
      ownerId = owner.id;
    }
    return this.tokens.list({ limit: query.limit, cursor: query.cursor, ownerId });
  }

  async create(identity: Identity, input: CreateApiTokenDto): Promise<CreatedApiTokenModel> {
    const { token, view } = await this.tokens.create(
      {
        name: input.name,
        kind: input.kind ?? 'user',
        role: input.role,
        scopes: input.scopes,
        expiresInDays: input.expiresInDays ?? DEFAULT_TOKEN_DAYS,
      },
      identity,
      principalHasRight(identity, 'tokens.manage'),
    );
    return { ...view, token };
  }

  revoke(identity: Identity, id: string): Promise<ApiTokenView> {
    return this.tokens.revoke(id, identity, principalHasRight(identity, 'tokens.manage'));
  }
}

@ApiTags('tokens')
@Controller('api/v1/tokens')
export class TokensController {
  constructor(private readonly actions: TokenActions) {}

  @Get()
  @RequireRight('tokens.own')
  @ApiOperation({
    summary: "List API tokens (never their values), newest first: your own, or everyone's with tokens.manage (?owner= for one person)",
  })
  @ApiOkResponse({ type: ApiTokenPage })
  list(@Query() query: TokenQuery, @CurrentIdentity() identity: Identity): Promise<ApiTokenPage> {
    return this.actions.list(identity, query);
  }

  @Post()
  @RequireRight('tokens.own', { action: 'tokens.create' })
  @ApiOperation({
    summary: 'Create an API token for a script; the token is shown once, in this response',
    description:
      "A person's token (kind user) belongs to you, counts as you (the two-person rule, the audit trail) and acts with a role no higher than yours; it stops working when you are disabled or demoted below it. Only a password sign-in creates tokens. A service identity (kind service, with scopes such as alerts.receive) is created by an admin and can never approve.",
  })
  @ApiCreatedResponse({ type: CreatedApiTokenModel })
  create(@Body() body: CreateApiTokenDto, @CurrentIdentity() identity: Identity): Promise<CreatedApiTokenModel> {
    return this.actions.create(identity, body);
  }

  @Delete(':id')
  @RequireRight('tokens.own', { action: 'tokens.revoke' })
  @ApiOperation({ summary: 'Revoke an API token (your own, or any with tokens.manage); it is refused from then on' })
  @ApiOkResponse({ type: ApiTokenModel })
  revoke(@Param('id', new ParseUuidPipe()) id: string, @CurrentIdentity() identity: Identity): Promise<ApiTokenModel> {
    return this.actions.revoke(identity, id);
  }
}
