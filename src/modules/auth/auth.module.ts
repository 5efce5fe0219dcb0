import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { JwtStrategy } from './jwt.strategy';
import { AuthController } from './auth.controller';
import { AuthResolver } from './auth.resolver';
import { AuthService } from './auth.service';
import { ApiTokenEntity } from './entities/api-token.entity';
import { SigningKeyEntity } from './entities/signing-key.entity';
import { UserEntity } from './entities/user.entity';
import { SigningKeysService } from './signing-keys.service';
import { TokenActions, TokensController } from './tokens.controller';
import { TokensService } from './tokens.service';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

@Module({
  imports: [TypeOrmModule.forFeature([UserEntity, ApiTokenEntity, SigningKeyEntity])],
  controllers: [AuthController, UsersController, TokensController],
  providers: [AuthService, UsersService, TokensService, TokenActions, SigningKeysService, JwtStrategy, AuthResolver],
  exports: [AuthService, UsersService, TokensService, JwtStrategy],
})
export class AuthModule {}
