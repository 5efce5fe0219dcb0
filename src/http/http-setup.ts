import { randomUUID } from 'node:crypto';
import { INestApplication } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { AppConfig } from '../config/app-config';
import { Inventory } from '../config/inventory.schema';
import { toDomainError } from '../common/exception.filter';
import { MetricsService } from '../infra/metrics/metrics.service';
import { JsonBodyLimits, parseJsonBody } from './json-body';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A request that carries a body must say it is JSON (form posts are refused: no CSRF by simple request). */
function refusesContentType(method: string, headers: Record<string, string | string[] | undefined>): boolean {
  if (!BODY_METHODS.has(method)) return false;
  const hasBody =
    (headers['content-length'] !== undefined && headers['content-length'] !== '0') || headers['transfer-encoding'] !== undefined;
  if (!hasBody) return false;
  const type = String(headers['content-type'] ?? '').toLowerCase();
  return !/^application\/(graphql-response\+)?json\b/.test(type);
}

function requestIdFrom(header: unknown): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** The HTTP adapter: Fastify (see README, Benchmarks, for the measurement behind the choice). */
export function createHttpAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: config.OPS_BODY_LIMIT_BYTES,
    trustProxy: config.OPS_TRUST_PROXY,
    genReqId: (req: { headers: Record<string, unknown> }) => requestIdFrom(req.headers['x-request-id']),
    requestTimeout: config.OPS_REQUEST_TIMEOUT_MS + 5000,
    connectionTimeout: config.OPS_REQUEST_TIMEOUT_MS + 5000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    logger: false,
  });
}

function jsonLimits(config: AppConfig): JsonBodyLimits {
  return { maxDepth: config.OPS_JSON_MAX_DEPTH, maxKeys: config.OPS_JSON_MAX_KEYS };
}

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Strict-Transport-Security': 'max-age=15552000; includeSubDomains',
  'Cache-Control': 'no-store',
};

/**
 * Cross-cutting HTTP concerns: request ids, security headers,
 * body size limit, CORS for the admin panel, access log and request metrics.
 */
export async function configureHttp(app: INestApplication, config: AppConfig, inventory: Inventory, logger: Logger): Promise<void> {
  const metrics = app.get(MetricsService);
  app.enableCors({
    origin: inventory.adminPanel.origins,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id', 'Accept'],
    exposedHeaders: ['X-Request-Id', 'Retry-After', 'Location'],
    maxAge: 600,
  });
  const errorBody = (error: unknown, id: string) => {
    const domain = toDomainError(error);
    return {
      status: domain.status,
      body: {
        statusCode: domain.status,
        error: domain.code,
        message: domain.message,
        ...(domain.details ? { details: domain.details } : {}),
        requestId: id,
      },
    };
  };
  const unsupported = () => toDomainError(Object.assign(new Error('unsupported media type'), { statusCode: 415 }));
  const finish = (method: string, route: string | undefined, url: string, status: number, started: bigint, id: string) => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics.observe(method, route ?? 'unmatched', status, seconds);
    logger.info({ reqId: id, method, url: url.split('?')[0], route, status, ms: Math.round(seconds * 1000) }, 'request');
  };

  const fastify = (app.getHttpAdapter() as FastifyAdapter).getInstance();
  // The application is created with bodyParser: false; this is the only JSON parser.
  const limits = jsonLimits(config);
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: config.OPS_BODY_LIMIT_BYTES },
    (_request, body, done) => {
      try {
        done(null, parseJsonBody(body as string, limits));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
  fastify.addHook('onRequest', async (request, reply) => {
    (request as any).startedAt = process.hrtime.bigint();
    reply.header('X-Request-Id', request.id);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    if (refusesContentType(request.method, request.headers)) {
      const { status, body } = errorBody(unsupported(), request.id);
      return reply.code(status).send(body);
    }
  });
  fastify.addHook('onResponse', async (request, reply) => {
    finish(
      request.method,
      request.routeOptions?.url,
      request.url,
      reply.statusCode,
      (request as any).startedAt ?? process.hrtime.bigint(),
      request.id,
    );
  });
}
