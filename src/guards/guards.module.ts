import { Module } from '@nestjs/common';
import { AuthModule } from '../modules/auth/auth.module';
import { Authenticator } from './authenticator';
import { RateLimiter } from './rate-limiter';

/** Identification, rate limiting and right checks, for the global guard and the GraphQL gate. */
@Module({
  imports: [AuthModule],
  providers: [RateLimiter, Authenticator],
  exports: [RateLimiter, Authenticator],
})
export class GuardsModule {}
