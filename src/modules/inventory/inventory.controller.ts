import { Controller, Get, Inject } from '@nestjs/common';
import { Field, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { INVENTORY, INVENTORY_FILE } from '../../config/config.module';
import { maskInventory } from '../../config/inventory.loader';
import { Inventory } from '../../config/inventory.schema';
import { GraphQLJSON } from '../../graphql/json.scalar';
import { RequireRight } from '../../guards/right.decorator';

@ObjectType('InventoryService')
export class InventoryServiceModel {
  @ApiProperty() @Field() name: string;
  @ApiProperty() @Field() container: string;
  @ApiProperty({ description: 'Must report "healthy" (has a Docker healthcheck)' }) @Field() healthcheck: boolean;
}

@ObjectType('Inventory')
export class InventoryModel {
  @ApiProperty({ description: 'The file it was read from' }) @Field() file: string;
  @ApiProperty() @Field() timezone: string;
  @ApiProperty() @Field() composeProject: string;
  @ApiProperty({ type: [InventoryServiceModel] }) @Field(() => [InventoryServiceModel]) services: InventoryServiceModel[];
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The whole inventory, secrets masked' })
  @Field(() => GraphQLJSON, { description: 'The whole inventory, secrets masked' })
  document: Inventory;
}

function view(inventory: Inventory, file: string): InventoryModel {
  const masked = maskInventory(inventory);
  return {
    file,
    timezone: masked.timezone,
    composeProject: masked.stack.composeProject,
    services: masked.stack.services,
    document: masked,
  };
}

@ApiTags('inventory')
@Controller('api/v1/inventory')
export class InventoryController {
  constructor(
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(INVENTORY_FILE) private readonly file: string,
  ) {}

  @Get()
  @RequireRight('inventory.read')
  @ApiOperation({ summary: 'The inventory of the ERP stack, with every secret masked' })
  @ApiOkResponse({ type: InventoryModel })
  get(): InventoryModel {
    return view(this.inventory, this.file);
  }
}

@Resolver()
export class InventoryResolver {
  constructor(
    @Inject(INVENTORY) private readonly loaded: Inventory,
    @Inject(INVENTORY_FILE) private readonly file: string,
  ) {}

  @Query(() => InventoryModel, { description: 'The inventory of the ERP stack, secrets masked' })
  @RequireRight('inventory.read')
  inventory(): InventoryModel {
    return view(this.loaded, this.file);
  }
}
