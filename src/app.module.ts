import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE, DiscoveryModule } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BackupsModule } from './modules/backups/backups.module';
import { AlertsModule } from './modules/alerts/alerts.module';
import { IncidentsModule } from './modules/incidents/incidents.module';
import { ReviewsModule } from './modules/reports/review/reviews.module';
import { RemediationsModule } from './modules/remediations/remediations.module';
import { ReportsModule } from './modules/reports/reports.module';
import { AuditInterceptor } from './interceptors/audit.interceptor';
import { registerDependencyEndpoint } from './common/dependency-errors';
import { Clock } from './common/clock';
import { OpsExceptionFilter } from './common/exception.filter';
import { TimeoutInterceptor } from './interceptors/timeout.interceptor';
import { OpsValidationPipe } from './common/validation';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { Inventory } from './config/inventory.schema';
import { graphqlGate } from './graphql/gate.plugin';
import { GRAPHQL_PARSE_OPTIONS } from './graphql/parse-options';
import { graphqlWsOptions, subscriptionRequest } from './graphql/subscriptions';
import { OpsAuthGuard } from './guards/auth.guard';
import { Authenticator } from './guards/authenticator';
import { GuardsModule } from './guards/guards.module';
import { ENTITIES } from './app.entities';
import { MasterKey } from './config/master-key';
import { RedisModule } from './infra/redis/redis.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './modules/auth/auth.module';
import { HealthModule } from './modules/health/health.module';
import { ProceduresModule } from './procedures/procedures.module';
import { InventoryController, InventoryResolver } from './modules/inventory/inventory.controller';
import { SystemModule } from './modules/system/system.module';

@Global()
@Module({ providers: [Clock], exports: [Clock] })
class ClockModule {}

export interface AppModuleOptions {
  config: AppConfig;
  inventory: Inventory;
  inventoryFile: string;
  masterKey: MasterKey;
}

@Module({})
export class AppModule {
  static forRoot({ config, inventory, inventoryFile, masterKey }: AppModuleOptions): DynamicModule {
    // Socket errors against these name their dependency in the 503 (common/dependency-errors).
    registerDependencyEndpoint('database', config.OPS_DATABASE_URL);
    registerDependencyEndpoint('redis', config.OPS_REDIS_URL);
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, inventory, inventoryFile, masterKey),
        DiscoveryModule,
        ClockModule,
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: config.OPS_DATABASE_URL,
          entities: ENTITIES,
          synchronize: false,
          migrationsRun: false,
          extra: { max: 10, connectionTimeoutMillis: 5000, statement_timeout: 30000 },
          retryAttempts: 3,
          retryDelay: 1000,
        }),
        RedisModule,
        GuardsModule,
        GraphQLModule.forRootAsync<ApolloDriverConfig>({
          driver: ApolloDriver,
          imports: [GuardsModule],
          inject: [Authenticator],
          useFactory: (authenticator: Authenticator) => ({
            autoSchemaFile: true,
            sortSchema: true,
            path: '/graphql',
            introspection: config.OPS_GRAPHQL_INTROSPECTION,
            playground: false,
            includeStacktraceInErrorResponses: false,
            // The parser stops after a bounded number of tokens, so nesting cannot overflow the stack.
            parseOptions: GRAPHQL_PARSE_OPTIONS,
            // No automatic persisted queries (no client uses them): a hash that does not match its query
            // was answered as INTERNAL_SERVER_ERROR, and the cache took queries from anyone.
            persistedQueries: false,
            // Every operation (introspection and `{ __typename }` included) is identified, rate
            // limited and measured (depth, cost with its variables) before it executes.
            plugins: [graphqlGate(authenticator, config) as never],
            // Subscriptions over graphql-ws; their context carries a request-shaped object for the guard.
            subscriptions: { 'graphql-ws': graphqlWsOptions },
            context: (ctx: { req?: unknown; request?: unknown; extra?: unknown }) => ({
              req: ctx.req ?? ctx.request ?? subscriptionRequest(ctx as never),
            }),
          }),
        }),
        SystemModule,
        AuditModule,
        AuthModule,
        HealthModule,
        ProceduresModule,
        BackupsModule,
        RemediationsModule,
        AlertsModule,
        IncidentsModule,
        ReviewsModule,
        ReportsModule,
      ],
      controllers: [InventoryController],
      providers: [
        InventoryResolver,
        { provide: APP_GUARD, useClass: OpsAuthGuard },
        // The audit interceptor is outermost: a mutation that times out is still audited.
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
        { provide: APP_INTERCEPTOR, useClass: TimeoutInterceptor },
        { provide: APP_FILTER, useClass: OpsExceptionFilter },
        { provide: APP_PIPE, useClass: OpsValidationPipe },
      ],
    };
  }
}
