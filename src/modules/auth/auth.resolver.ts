import { Args, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { CurrentIdentity } from '../../common/current-identity.decorator';
import { PageArgs, PageOf } from '../../common/graphql-page';
import { ParseUuidPipe } from '../../common/ids';
import { Identity } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { identityView } from './auth.controller';
import { AuthService } from './auth.service';
import {
  ApiTokenModel,
  CreateApiTokenDto,
  CreatedApiTokenModel,
  CreateUserDto,
  IdentityModel,
  ParseUsernamePipe,
  UpdateUserDto,
  UserModel,
} from './dto/auth.dto';
import { TokenActions } from './tokens.controller';
import { toUserView, UsersService } from './users.service';

@ObjectType('UserPage')
class UserPageModel extends PageOf(UserModel, 'UserPageBase') {}

@ObjectType('ApiTokenPage')
class ApiTokenPageModel extends PageOf(ApiTokenModel, 'ApiTokenPageBase') {}

/** GraphQL face of sign-in, users and API tokens; the same services and rights as REST. */
@Resolver()
export class AuthResolver {
  constructor(
    private readonly usersService: UsersService,
    private readonly tokenActions: TokenActions,
    private readonly authService: AuthService,
  ) {}

  @Query(() => IdentityModel, { description: "The caller's identity, role and rights" })
  @RequireRight('auth.self')
  me(@CurrentIdentity() identity: Identity): IdentityModel {
    return identityView(identity);
  }

  @Query(() => UserPageModel)
  @RequireRight('users.manage')
  users(@Args() page: PageArgs) {
    return this.usersService.list(page.limit, page.cursor);
  }

  @Mutation(() => UserModel)
  @RequireRight('users.manage', { action: 'users.create' })
  async createUser(@Args('input') input: CreateUserDto): Promise<UserModel> {
    return toUserView(await this.usersService.create(input));
  }

  @Mutation(() => UserModel)
  @RequireRight('users.manage', { action: 'users.update' })
  async updateUser(@Args('id', new ParseUuidPipe()) id: string, @Args('input') input: UpdateUserDto): Promise<UserModel> {
    return toUserView(await this.usersService.update(id, input));
  }

  @Mutation(() => UserModel)
  @RequireRight('users.manage', { action: 'users.unlock' })
  async unlockUser(@Args('id', new ParseUuidPipe()) id: string): Promise<UserModel> {
    const user = await this.usersService.get(id);
    await this.authService.unlock(user.username);
    return toUserView(user);
  }

  @Query(() => ApiTokenPageModel, { description: "Your API tokens; everyone's (or one owner's) with tokens.manage" })
  @RequireRight('tokens.own')
  apiTokens(
    @Args() page: PageArgs,
    @Args('owner', { type: () => String, nullable: true }, new ParseUsernamePipe('owner')) owner: string | undefined,
    @CurrentIdentity() identity: Identity,
  ) {
    return this.tokenActions.list(identity, { limit: page.limit, cursor: page.cursor, owner: owner ?? undefined });
  }

  @Mutation(() => CreatedApiTokenModel)
  @RequireRight('tokens.own', { action: 'tokens.create' })
  createApiToken(@Args('input') input: CreateApiTokenDto, @CurrentIdentity() identity: Identity): Promise<CreatedApiTokenModel> {
    return this.tokenActions.create(identity, input);
  }

  @Mutation(() => ApiTokenModel)
  @RequireRight('tokens.own', { action: 'tokens.revoke' })
  revokeApiToken(@Args('id', new ParseUuidPipe()) id: string, @CurrentIdentity() identity: Identity): Promise<ApiTokenModel> {
    return this.tokenActions.revoke(identity, id);
  }
}
