import { Inject, Injectable } from '@nestjs/common';
import * as jwt from 'jsonwebtoken';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { Identity, OpsRequest } from '../../common/request-context';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { AccessTokenClaims, AuthService } from './auth.service';
import { SigningKeysService } from './signing-keys.service';

/**
 * Access tokens (JWT) verified with passport-jwt: HS256 only (so `alg: none` and other
 * algorithms are refused), the key picked by `kid` (unknown keys refused), issuer,
 * audience, expiry and not-before checked. The strategy instance belongs to this
 * application (not passport's process-wide registry), so that several instances can
 * live in one process.
 */
@Injectable()
export class JwtStrategy {
  private readonly strategy: Strategy;

  constructor(@Inject(APP_CONFIG) config: AppConfig, keys: SigningKeysService, auth: AuthService) {
    this.strategy = new Strategy(
      {
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        algorithms: ['HS256'],
        issuer: config.OPS_JWT_ISSUER,
        audience: config.OPS_JWT_AUDIENCE,
        ignoreExpiration: false,
        jsonWebTokenOptions: { clockTolerance: 5 } as never,
        secretOrKeyProvider: (_request: unknown, rawJwt: string, done: (err: Error | null, secret?: string) => void) => {
          const decoded = jwt.decode(rawJwt, { complete: true });
          const secret = keys.secretFor(decoded?.header?.kid);
          if (!secret) return done(new jwt.JsonWebTokenError('unknown signing key'));
          done(null, secret);
        },
      },
      (claims: AccessTokenClaims, done: (err: Error | null, user?: Identity | false, info?: unknown) => void) => {
        auth.identityFromClaims(claims).then(
          (identity) => ('refused' in identity ? done(null, false, new jwt.JsonWebTokenError(identity.refused)) : done(null, identity)),
          (error) => done(error as Error),
        );
      },
    );
  }

  /** Runs the passport strategy on a request: the identity, or the reason it failed. */
  verify(req: OpsRequest): Promise<Identity> {
    return new Promise((resolve, reject) => {
      const run = Object.create(this.strategy) as Strategy & {
        success: (user: Identity) => void;
        fail: (info?: unknown) => void;
        error: (err: Error) => void;
      };
      run.success = (user) => resolve(user);
      run.fail = (info) => reject(info ?? new jwt.JsonWebTokenError('invalid token'));
      run.error = (err) => reject(err);
      run.authenticate(req as never, {});
    });
  }
}
