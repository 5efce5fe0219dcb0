import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from './app-config';
import { Inventory } from './inventory.schema';

export const APP_CONFIG = Symbol('APP_CONFIG');
export const INVENTORY = Symbol('INVENTORY');
export const INVENTORY_FILE = Symbol('INVENTORY_FILE');

/** Provides the validated environment settings and inventory to every module. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig, inventory: Inventory, inventoryFile: string): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: INVENTORY, useValue: inventory },
        { provide: INVENTORY_FILE, useValue: inventoryFile },
      ],
      exports: [APP_CONFIG, INVENTORY, INVENTORY_FILE],
    };
  }
}
