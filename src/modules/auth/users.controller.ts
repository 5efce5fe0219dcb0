import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseUuidPipe } from '../../common/ids';
import { PageQuery } from '../../common/pagination';
import { RequireRight } from '../../guards/right.decorator';
import { AuthService } from './auth.service';
import { CreateUserDto, UpdateUserDto, UserModel, UserPage } from './dto/auth.dto';
import { toUserView, UsersService } from './users.service';

@ApiTags('users')
@Controller('api/v1/users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly auth: AuthService,
  ) {}

  @Get()
  @RequireRight('users.manage')
  @ApiOperation({ summary: 'List users (paginated by username)' })
  @ApiOkResponse({ type: UserPage })
  list(@Query() query: PageQuery): Promise<UserPage> {
    return this.users.list(query.limit, query.cursor);
  }

  @Post()
  @RequireRight('users.manage', { action: 'users.create' })
  @ApiOperation({ summary: 'Create a user' })
  @ApiCreatedResponse({ type: UserModel })
  async create(@Body() body: CreateUserDto): Promise<UserModel> {
    return toUserView(await this.users.create(body));
  }

  @Patch(':id')
  @RequireRight('users.manage', { action: 'users.update' })
  @ApiOperation({ summary: "Change a user's role, password or disabled flag" })
  @ApiOkResponse({ type: UserModel })
  async update(@Param('id', new ParseUuidPipe()) id: string, @Body() body: UpdateUserDto): Promise<UserModel> {
    return toUserView(await this.users.update(id, body));
  }

  @Post(':id/unlock')
  @HttpCode(200)
  @RequireRight('users.manage', { action: 'users.unlock' })
  @ApiOperation({ summary: 'Lift a sign-in lockout before it expires' })
  @ApiOkResponse({ type: UserModel })
  async unlock(@Param('id', new ParseUuidPipe()) id: string): Promise<UserModel> {
    const user = await this.users.get(id);
    await this.auth.unlock(user.username);
    return toUserView(user);
  }
}
