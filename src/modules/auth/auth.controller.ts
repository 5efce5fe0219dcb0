import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { CurrentIdentity, CurrentRequest } from '../../common/current-identity.decorator';
import { clientAddress, Identity, OpsRequest, viaOf } from '../../common/request-context';
import { Public, RequireRight } from '../../guards/right.decorator';
import { principalHasRight, RightName, RIGHTS } from '../../common/rights';
import { AuthService } from './auth.service';
import { IdentityModel, LoginDto, LoginResponse } from './dto/auth.dto';

export function identityView(identity: Identity): IdentityModel {
  return {
    kind: identity.kind,
    id: identity.id,
    username: identity.username,
    role: identity.role,
    userId: identity.userId,
    via: viaOf(identity),
    rights: (Object.keys(RIGHTS) as RightName[]).filter((right) => principalHasRight(identity, right)),
  };
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
  @ApiTooManyRequestsResponse({
    description:
      'Locked after repeated failures: this account from your address, your address, or (after failures from many addresses) the account; Retry-After tells when to retry',
  })
  login(@Body() body: LoginDto, @CurrentRequest() req: OpsRequest): Promise<LoginResponse> {
    return this.auth.login(body.username, body.password, clientAddress(req));
  }

  @Get('me')
  @RequireRight('auth.self')
  @ApiOperation({ summary: "The caller's identity, role and rights" })
  @ApiOkResponse({ type: IdentityModel })
  me(@CurrentIdentity() identity: Identity): IdentityModel {
    return identityView(identity);
  }
}
