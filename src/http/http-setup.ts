import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { INestApplication } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
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

/** Node's clientError for Express, answered as Fastify's default handler does. */
function answerClientError(error: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Client Timeout']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Exceeded maximum allowed HTTP header size']
        : [400, 'Client Error'];
  const body = JSON.stringify({ error: STATUS_CODES[status], message, statusCode: status });
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy();
}

/** The HTTP adapter (Fastify by default; see README for the measurement behind it). */
export function createHttpAdapter(config: AppConfig): FastifyAdapter | ExpressAdapter {
  if (config.OPS_HTTP_ADAPTER === 'express') return new ExpressAdapter();
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

/** An error answered in the shape of every other error: status, code, message, details, request id. */
interface ErrorAnswer {
  status: number;
  body: { statusCode: number; error: string; message: string; details?: unknown; requestId: string };
}

/** What both adapters do for each request: shape an error, refuse a non-JSON body, log and measure the answer. */
interface RequestHooks {
  errorBody(error: unknown, id: string): ErrorAnswer;
  unsupported(): unknown;
  finish(method: string, route: string | undefined, url: string, status: number, started: bigint, id: string): void;
}

function requestHooks(metrics: MetricsService, logger: Logger): RequestHooks {
  return {
    errorBody(error, id) {
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
    },
    unsupported: () => toDomainError(Object.assign(new Error('unsupported media type'), { statusCode: 415 })),
    finish(method, route, url, status, started, id) {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observe(method, route ?? 'unmatched', status, seconds);
      logger.info({ reqId: id, method, url: url.split('?')[0], route, status, ms: Math.round(seconds * 1000) }, 'request');
    },
  };
}

/**
 * Cross-cutting HTTP concerns, for either adapter: request ids, security headers,
 * body size limit, CORS for the admin panel, access log and request metrics.
 */
export async function configureHttp(app: INestApplication, config: AppConfig, inventory: Inventory, logger: Logger): Promise<void> {
  app.enableCors({
    origin: inventory.adminPanel.origins,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id', 'Accept'],
    exposedHeaders: ['X-Request-Id', 'Retry-After', 'Location'],
    maxAge: 600,
  });
  const hooks = requestHooks(app.get(MetricsService), logger);
  if (config.OPS_HTTP_ADAPTER === 'express') configureExpress(app, config, hooks);
  else configureFastify(app, config, hooks);
}

function configureExpress(app: INestApplication, config: AppConfig, hooks: RequestHooks): void {
  const express = app as unknown as import('@nestjs/platform-express').NestExpressApplication;
  // Requests Node's parser refuses (a request line or headers over 16 KB, malformed HTTP)
  // get a JSON error as under Fastify (its default clientErrorHandler), not an empty answer.
  (app.getHttpServer() as import('node:http').Server).on('clientError', answerClientError);
  express.set('trust proxy', config.OPS_TRUST_PROXY);
  express.disable('x-powered-by');
  express.use((req: any, res: any, next: () => void) => {
    const started = process.hrtime.bigint();
    req.id = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('X-Request-Id', req.id);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    res.on('finish', () =>
      hooks.finish(
        req.method,
        req.route?.path ? `${req.baseUrl}${req.route.path}` : undefined,
        req.originalUrl,
        res.statusCode,
        started,
        req.id,
      ),
    );
    if (refusesContentType(req.method, req.headers)) {
      const { status, body } = hooks.errorBody(hooks.unsupported(), req.id);
      res.status(status).json(body);
      return;
    }
    next();
  });
  // The body is read as text (body-parser: size limit → 413, charset) and handed to the same
  // parser as Fastify's (the application is created with bodyParser: false).
  express.useBodyParser('text', { type: 'application/json', limit: config.OPS_BODY_LIMIT_BYTES, defaultCharset: 'utf-8' });
  const limits = jsonLimits(config);
  express.use(function jsonParser(req: any, _res: any, next: (error?: unknown) => void) {
    if (typeof req.body !== 'string') return next();
    try {
      req.body = parseJsonBody(req.body, limits);
      next();
    } catch (error) {
      next(error);
    }
  });
  // Body parser errors (malformed JSON, too large) in the same shape as every other error.
  express.use((error: unknown, req: any, res: any, next: (e?: unknown) => void) => {
    if (res.headersSent) return next(error);
    const { status, body } = hooks.errorBody(error, req.id);
    if (status >= 500) return next(error);
    res.status(status).json(body);
  });
}

function configureFastify(app: INestApplication, config: AppConfig, hooks: RequestHooks): void {
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
      const { status, body } = hooks.errorBody(hooks.unsupported(), request.id);
      return reply.code(status).send(body);
    }
  });
  fastify.addHook('onResponse', async (request, reply) => {
    hooks.finish(
      request.method,
      request.routeOptions?.url,
      request.url,
      reply.statusCode,
      (request as any).startedAt ?? process.hrtime.bigint(),
      request.id,
    );
  });
}
