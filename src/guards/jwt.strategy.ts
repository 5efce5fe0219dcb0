import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import * as jwt from 'jsonwebtoken';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { AccessTokenClaims, AuthService } from '../modules/auth/auth.service';
import { SigningKeysService } from '../modules/auth/signing-keys.service';

/**
 * Access tokens (JWT) verified with passport-jwt: HS256 only (so `alg: none` and other
 * algorithms are refused), the key picked by `kid` (unknown keys refused), issuer,
 * audience, expiry and not-before checked.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    keys: SigningKeysService,
    private readonly auth: AuthService,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: ['HS256'],
      issuer: config.OPS_JWT_ISSUER,
      audience: config.OPS_JWT_AUDIENCE,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: 5 },
      secretOrKeyProvider: (_request: unknown, rawJwt: string, done: (err: Error | null, secret?: string) => void) => {
        const decoded = jwt.decode(rawJwt, { complete: true });
        const secret = keys.secretFor(decoded?.header?.kid);
        if (!secret) return done(new jwt.JsonWebTokenError('unknown signing key'));
        done(null, secret);
      },
    });
  }

  async validate(claims: AccessTokenClaims) {
    const identity = await this.auth.identityFromClaims(claims);
    if ('refused' in identity) throw new jwt.JsonWebTokenError(identity.refused);
    return identity;
  }
}
