import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from './app-config';
import { Inventory } from './inventory.schema';
import { MASTER_KEY, MasterKey } from './master-key';

export const APP_CONFIG = Symbol('APP_CONFIG');
export const INVENTORY = Symbol('INVENTORY');
export const INVENTORY_FILE = Symbol('INVENTORY_FILE');

/** Provides the validated environment settings, the inventory and the master key to every module. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig, inventory: Inventory, inventoryFile: string, masterKey: MasterKey): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: INVENTORY, useValue: inventory },
        { provide: INVENTORY_FILE, useValue: inventoryFile },
        { provide: MASTER_KEY, useValue: masterKey },
      ],
      exports: [APP_CONFIG, INVENTORY, INVENTORY_FILE, MASTER_KEY],
    };
  }
}
