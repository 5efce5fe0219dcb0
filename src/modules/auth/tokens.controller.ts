import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentIdentity } from '../../common/current-identity.decorator';
import { ParseUuidPipe } from '../../common/ids';
import { PageQuery } from '../../common/pagination';
import { Identity } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { ApiTokenModel, ApiTokenPage, CreateApiTokenDto, CreatedApiTokenModel } from './dto/auth.dto';
import { TokensService } from './tokens.service';

export const DEFAULT_TOKEN_DAYS = 90;

@ApiTags('tokens')
@Controller('api/v1/tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Get()
  @RequireRight('tokens.manage')
  @ApiOperation({ summary: 'List API tokens (never their values), newest first' })
  @ApiOkResponse({ type: ApiTokenPage })
  list(@Query() query: PageQuery): Promise<ApiTokenPage> {
    return this.tokens.list(query.limit, query.cursor);
  }

  @Post()
  @RequireRight('tokens.manage', { action: 'tokens.create' })
  @ApiOperation({ summary: 'Create an API token for a script; the token is shown once, in this response' })
  @ApiCreatedResponse({ type: CreatedApiTokenModel })
  async create(@Body() body: CreateApiTokenDto, @CurrentIdentity() identity: Identity): Promise<CreatedApiTokenModel> {
    const { token, view } = await this.tokens.create({ name: body.name, role: body.role, expiresInDays: body.expiresInDays ?? DEFAULT_TOKEN_DAYS }, identity);
    return { ...view, token };
  }

  @Delete(':id')
  @RequireRight('tokens.manage', { action: 'tokens.revoke' })
  @ApiOperation({ summary: 'Revoke an API token; it is refused from then on' })
  @ApiOkResponse({ type: ApiTokenModel })
  revoke(@Param('id', new ParseUuidPipe()) id: string, @CurrentIdentity() identity: Identity): Promise<ApiTokenModel> {
    return this.tokens.revoke(id, identity);
  }
}
