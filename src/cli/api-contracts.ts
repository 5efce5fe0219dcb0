import { INestApplication } from '@nestjs/common';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { lexicographicSortSchema, printSchema } from 'graphql';

export const OPENAPI_FILE = 'openapi.json';
export const SCHEMA_FILE = 'schema.gql';

/** The REST contract: every route with its security scheme and declared right (x-required-right). */
export function openApiDocument(app: INestApplication): string {
  const config = new DocumentBuilder()
    .setTitle('ERP operations control plane')
    .setDescription(
      'The operations runbook of the Quty Karunia ERP as an authenticated API. Send "Authorization: Bearer <token>" ' +
        '(an access token from POST /api/v1/auth/login, or an API token). Each operation names the right it requires in ' +
        'x-required-right; a caller without it gets 403 with whom to escalate to.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'JWT access token or API token (opsk_…)' }, 'bearer')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  return `${JSON.stringify(document, null, 2)}\n`;
}

/** The GraphQL contract, sorted so that it is stable. */
export function graphqlSchema(app: INestApplication): string {
  const schema = app.get(GraphQLSchemaHost).schema;
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
