import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { CurrentIdentity } from '../../common/current-identity.decorator';
import { Identity } from '../../common/request-context';
import { Public, RequireRight } from '../../guards/right.decorator';
import { RightName, RIGHTS, roleHasRight } from '../../guards/rights';
import { AuthService } from './auth.service';
import { IdentityModel, LoginDto, LoginResponse } from './dto/auth.dto';

export function identityView(identity: Identity): IdentityModel {
  return { ...identity, rights: (Object.keys(RIGHTS) as RightName[]).filter((right) => roleHasRight(identity.role, right)) };
}

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('login')
  @HttpCode(200)
  @Public({ action: 'auth.login' })
  @ApiOperation({ summary: 'Sign in with username and password; returns a short-lived access token (JWT)' })
  @ApiOkResponse({ type: LoginResponse })
  @ApiTooManyRequestsResponse({ description: 'Account locked after repeated failures (Retry-After tells when to retry)' })
  login(@Body() body: LoginDto): Promise<LoginResponse> {
    return this.auth.login(body.username, body.password);
  }

  @Get('me')
  @RequireRight('auth.self')
  @ApiOperation({ summary: 'The caller\'s identity, role and rights' })
  @ApiOkResponse({ type: IdentityModel })
  me(@CurrentIdentity() identity: Identity): IdentityModel {
    return identityView(identity);
  }
}
